"""The MovieLens download chain, with the network functions replaced: no
test here touches the network."""

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tfllmrec.data import load_movielens_100k, load_movielens_latest_small, movielens
from test_data_movielens import (
    TOY_STORY, USERS_HEADER, dataset_dir, write_grouplens, write_latest, write_recbole)
from test_data_tables import raises_data_error


REAL_DOWNLOAD = movielens._download
REAL_PIP_DOWNLOAD = movielens._pip_download_recbole


@pytest.fixture(scope="module")
def ml100k_dir(shared):
    return dataset_dir(shared, "ml-100k")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Every transfer fails loudly unless a test puts its own stand-in."""
    monkeypatch.setattr(movielens, "_download", must_not_run)
    monkeypatch.setattr(movielens, "_pip_download_recbole", must_not_run)


def md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def fake_wheel(dest_dir, source_dir, names=("ml-100k.inter", "ml-100k.item", "ml-100k.user")):
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    wheel = dest_dir / "recbole-1.2.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zipped:
        for name in names:
            zipped.write(source_dir / name, f"recbole/dataset_example/ml-100k/{name}")
    return wheel


def fail(*args):
    raise OSError("network is unreachable")


def must_not_run(*args):
    raise AssertionError("this download step must not run")


def grouplens_zip(tmp_path):
    folder = write_grouplens(tmp_path / "src" / "ml-100k")
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(folder.iterdir()):
            zipped.write(path, f"ml-100k/{path.name}")
    return archive


def test_download_grouplens_zip(tmp_path, monkeypatch):
    archive = grouplens_zip(tmp_path)
    # The real _download, fed a local file:// URL.
    monkeypatch.setattr(movielens, "_download", REAL_DOWNLOAD)
    monkeypatch.setattr(movielens, "ML_100K_URL", archive.as_uri())
    monkeypatch.setattr(movielens, "ML_100K_MD5", md5(archive))
    monkeypatch.setattr(movielens, "_pip_download_recbole", must_not_run)
    cache = tmp_path / "cache"
    assert load_movielens_100k(cache_dir=cache).items.texts()[0] == TOY_STORY
    assert sorted(p.name for p in cache.iterdir()) == ["ml-100k"]
    monkeypatch.setattr(movielens, "_download", must_not_run)
    assert len(load_movielens_100k(cache_dir=cache).interactions) == 2  # from the cache


def test_an_incomplete_cache_folder_is_replaced(tmp_path, monkeypatch):
    archive = grouplens_zip(tmp_path)
    cache = tmp_path / "cache"
    (cache / "ml-100k").mkdir(parents=True)
    (cache / "ml-100k" / "u.item").write_text("left over")
    monkeypatch.setattr(movielens, "ML_100K_MD5", md5(archive))
    monkeypatch.setattr(movielens, "_download", lambda url, dest: shutil.copy(archive, dest))
    monkeypatch.setattr(movielens, "_pip_download_recbole", must_not_run)
    assert len(load_movielens_100k(cache_dir=cache).items) == 2
    assert sorted(p.name for p in cache.iterdir()) == ["ml-100k"]


def test_default_cache_is_under_home(tmp_path, monkeypatch):
    monkeypatch.delenv("TFLLMREC_CACHE", raising=False)
    archive = grouplens_zip(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(movielens, "ML_100K_MD5", md5(archive))
    monkeypatch.setattr(movielens, "_download", lambda url, dest: shutil.copy(archive, dest))
    load_movielens_100k()
    assert (tmp_path / "home" / ".cache" / "tfllmrec" / "ml-100k" / "u.item").is_file()


@pytest.mark.parametrize("download", [
    fail, lambda url, dest: Path(dest).write_bytes(b"not the zip")])  # md5 mismatch
def test_falls_back_to_the_recbole_wheel(tmp_path, monkeypatch, ml100k_dir, download):
    calls = []

    # shared/ has no ml-100k.user: the wheel's stand-in is a two-user one, its md5 the expected one.
    source = tmp_path / "wheel-files"
    source.mkdir()
    for name in ("ml-100k.inter", "ml-100k.item"):
        shutil.copy(ml100k_dir / name, source)
    (source / "ml-100k.user").write_text(USERS_HEADER + "1\t24\tM\ttechnician\t85711\n2\t53\tF\tother\t94043\n")
    monkeypatch.setattr(movielens, "RECBOLE_USERS", {"ml-100k.user": md5(source / "ml-100k.user")})

    def pip(dest_dir):
        calls.append(dest_dir)
        return fake_wheel(dest_dir, source)

    monkeypatch.setattr(movielens, "_download", download)
    monkeypatch.setattr(movielens, "_pip_download_recbole", pip)
    cache = tmp_path / "cache"
    dataset = load_movielens_100k(cache_dir=cache)
    assert len(dataset.interactions) == 100_000 and len(calls) == 1
    assert sorted(p.name for p in cache.iterdir()) == ["ml-100k-recbole"]
    assert md5(cache / "ml-100k-recbole" / "ml-100k.item") == md5(ml100k_dir / "ml-100k.item")
    assert dataset.users.texts(["2"]).tolist() == ["A 53-year-old woman; occupation: other."]
    monkeypatch.setattr(movielens, "_download", must_not_run)
    monkeypatch.setattr(movielens, "_pip_download_recbole", must_not_run)
    assert dataset.items.texts(["1"])[0] == load_movielens_100k(cache_dir=cache).items.texts(["1"])[0]


@pytest.mark.parametrize("pip", [
    fail, lambda dest: fake_wheel(dest, Path("."), names=())])  # a wheel without the files
def test_both_sources_failing_says_to_pass_a_folder(tmp_path, monkeypatch, pip):
    def half_download(url, dest):
        Path(dest).write_bytes(b"PK partial")
        raise OSError("connection reset")

    monkeypatch.setattr(movielens, "_download", half_download)
    monkeypatch.setattr(movielens, "_pip_download_recbole", pip)
    cache = tmp_path / "cache"
    with raises_data_error("connection reset", "recbole==1.2.1", "path=", "u.data",
                           "ml-100k.inter"):
        load_movielens_100k(cache_dir=cache)
    assert list(cache.iterdir()) == []  # nothing partial left behind


def test_latest_small_download_and_failure(tmp_path, monkeypatch):
    folder = write_latest(tmp_path / "src" / "ml-latest-small")
    archive = tmp_path / "ml-latest-small.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in folder.iterdir():
            zipped.write(path, f"ml-latest-small/{path.name}")
    monkeypatch.setattr(movielens, "_download", fail)
    with raises_data_error(movielens.LATEST_SMALL_URL, "network is unreachable", "path="):
        load_movielens_latest_small(cache_dir=tmp_path / "cache")
    monkeypatch.setattr(movielens, "_download", lambda url, dest: shutil.copy(archive, dest))
    dataset = load_movielens_latest_small(cache_dir=tmp_path / "cache")
    assert len(dataset.items) == 3
    assert (tmp_path / "cache" / "ml-latest-small" / "ratings.csv").is_file()


def test_pip_download_command(tmp_path, monkeypatch):
    seen = {}

    def run(command, **kwargs):
        seen["command"] = command
        fake_wheel(tmp_path / "pip", write_recbole(tmp_path / "src"), names=("ml-100k.inter", "ml-100k.item"))
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(movielens.subprocess, "run", run)
    wheel = REAL_PIP_DOWNLOAD(tmp_path / "pip")
    assert wheel.name == "recbole-1.2.1-py3-none-any.whl"
    command = seen["command"]
    assert command[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in command and "recbole==1.2.1" in command
    assert command[command.index("-d") + 1] == str(tmp_path / "pip")

    def broken(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution")

    monkeypatch.setattr(movielens.subprocess, "run", broken)
    with pytest.raises(OSError, match="No matching distribution"):
        REAL_PIP_DOWNLOAD(tmp_path / "other")
