"""Loaders for MovieLens 100K and ml-latest-small (GroupLens Research).

GroupLens' terms allow research use but not redistribution, so the data is
fetched at run time into a cache folder, or read from a folder you pass.
Each item's text is its title with year, then its genres:
"Toy Story (1995). Animation Children's Comedy".
"""

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

from tfllmrec.data import _fetch
from tfllmrec.data._files import existing_folder
from tfllmrec.data._movielens_files import read_grouplens, read_latest_small, read_recbole
from tfllmrec.errors import DataError

ML_100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ML_100K_MD5 = "0e33842e24a9c977be4e0107933c0723"
LATEST_SMALL_URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
RECBOLE_REQUIREMENT = "recbole==1.2.1"
# RecBole's atomic copy of ML-100K inside its wheel, with the files' md5s.
RECBOLE_MEMBER_DIR = "recbole/dataset_example/ml-100k/"
RECBOLE_FILES = {
    "ml-100k.inter": "a8a8c3f165aedc53f63b5dc0a0463b14",
    "ml-100k.item": "fb748e97e64d9a35421d06d7083d0959",
}
# The users' age, gender and occupation: read when a folder has them, and
# part of a complete cached copy (an older cache without it is fetched again).
RECBOLE_USERS = {"ml-100k.user": "ac50ecbab626dbefa83288a3593f92ab"}
GROUPLENS_FILES = ("u.data", "u.item")
LATEST_SMALL_FILES = ("movies.csv", "ratings.csv")
_FORMATS = (
    "either the GroupLens files u.data and u.item (from an unzipped "
    "ml-100k.zip) or RecBole's atomic files ml-100k.inter and ml-100k.item"
)


def _download(url, dest):
    """Fetches `url` into the file `dest` (a module function so tests can replace it)."""
    _fetch.download(url, dest)


def _pip_download_recbole(dest_dir):
    """Runs `pip download --no-deps recbole==1.2.1` into `dest_dir`; nothing is installed.

    Returns:
        Path: the downloaded wheel.

    Raises:
        OSError: pip could not run, failed, or left no wheel.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps",
               "--only-binary=:all:", "--disable-pip-version-check", "--no-input",
               "--retries", "2",
               RECBOLE_REQUIREMENT, "-d", str(dest_dir)]
    shown = f"pip download --no-deps {RECBOLE_REQUIREMENT}"
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as error:
        raise OSError(f"`{shown}` could not run: {error}") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-2:]
        raise OSError(f"`{shown}` failed (exit {result.returncode}): {' / '.join(tail)}")
    wheels = sorted(dest_dir.glob("recbole-1.2.1-*.whl"))
    if not wheels:
        raise OSError(f"`{shown}` left no recbole wheel in {dest_dir}")
    return wheels[0]


def load_movielens_100k(path=None, cache_dir=None):
    """Loads MovieLens 100K: 100,000 ratings by 943 users of 1,682 movies.

    With `path`, reads that folder (or its `ml-100k/` subfolder) in either
    layout: GroupLens' `u.data` + `u.item` (+ `u.genre`, optional), or
    RecBole's `ml-100k.inter` + `ml-100k.item`, each with its users file
    (`u.user`, `ml-100k.user`) when the folder has one. Without it, uses the copy in
    `cache_dir`, downloading it on first use: the GroupLens zip (md5-checked),
    or, when that fails, RecBole's copy read out of the `recbole==1.2.1` wheel
    fetched by `pip download` (nothing is installed).

    Args:
        path: str, Path or None. A local folder.
        cache_dir: str, Path or None. Download cache; default ~/.cache/tfllmrec.

    Returns:
        Dataset named "ml-100k": weight = rating (1-5), timestamp = Unix
        seconds; items with text fields ["title", "genres"]; `users`, each
        user's profile ("A 24-year-old man; occupation: technician."), or
        None when the folder has no users file.

    Raises:
        DataError: the folder holds neither layout, a file is malformed, or
            no download worked.

    Example:
    >>> folder = Path("ml-100k"); folder.mkdir()  # GroupLens layout, 3 genres
    >>> _ = (folder / "u.data").write_text("196\\t1\\t3\\t881250949\\n186\\t2\\t5\\t891717742\\n")
    >>> _ = (folder / "u.genre").write_text("Animation|0\\nChildren's|1\\nComedy|2\\n")
    >>> _ = (folder / "u.item").write_text("1|Toy Story (1995)|01-Jan-1995|||1|1|1\\n"
    ...                                    "2|GoldenEye (1995)|01-Jan-1995|||0|0|0\\n")
    >>> dataset = load_movielens_100k("ml-100k")
    >>> dataset
    Dataset('ml-100k': 2 interactions, 2 users, 2 items)
    >>> str(dataset.items.texts(["1"])[0])
    "Toy Story (1995). Animation Children's Comedy"
    """
    if path is not None:
        folder = existing_folder(path)
    else:
        folder = _fetch_100k(_fetch.cache_folder(cache_dir))
    for base in (folder, folder / "ml-100k"):
        if _complete(base, RECBOLE_FILES):
            return read_recbole(base)
        if _complete(base, GROUPLENS_FILES):
            return read_grouplens(base)
    raise DataError(
        f"{folder} holds no MovieLens 100K files (it has: {_listing(folder)}). "
        f"Fix: pass a folder with {_FORMATS}."
    )


def load_movielens_latest_small(path=None, cache_dir=None):
    """Loads ml-latest-small: 100,836 ratings by 610 users; 9,742 movies.

    Args:
        path: str, Path or None. A folder (or its `ml-latest-small/`
            subfolder) with `movies.csv` and `ratings.csv`; None downloads
            the GroupLens zip into `cache_dir` on first use.
        cache_dir: str, Path or None. Download cache; default ~/.cache/tfllmrec.

    Returns:
        Dataset named "ml-latest-small": weight = rating (0.5-5); items with
        text fields ["title", "genres"]; "(no genres listed)" becomes "".

    Raises:
        DataError: files missing or malformed, or the download failed.

    Example:
    >>> folder = Path("ml-latest-small"); folder.mkdir()
    >>> _ = (folder / "movies.csv").write_text("movieId,title,genres\\n"
    ...     "1,Toy Story (1995),Adventure|Animation\\n2,Jumanji (1995),(no genres listed)\\n")
    >>> _ = (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\\n"
    ...     "1,1,4.0,964982703\\n1,2,3.5,964981247\\n")
    >>> dataset = load_movielens_latest_small("ml-latest-small")
    >>> dataset.items.texts().tolist()
    ['Toy Story (1995). Adventure Animation', 'Jumanji (1995)']
    >>> dataset.interactions.frame["weight"].tolist()
    [4.0, 3.5]
    """
    if path is not None:
        folder = existing_folder(path)
    else:
        cache = _fetch.cache_folder(cache_dir)
        folder = cache / "ml-latest-small"
        if not _complete(folder, LATEST_SMALL_FILES):
            try:
                _fetch.fetch_zip(LATEST_SMALL_URL, None, cache, "ml-latest-small",
                                 LATEST_SMALL_FILES, _download)
            except (OSError, DataError) as error:
                raise DataError(
                    f"Could not download {LATEST_SMALL_URL} ({error}). Fix: download "
                    "ml-latest-small.zip from https://grouplens.org/datasets/movielens/"
                    "latest/, unzip it, and pass the folder: "
                    "load_movielens_latest_small(path='.../ml-latest-small')."
                ) from None
    base = next((b for b in (folder, folder / "ml-latest-small")
                 if _complete(b, LATEST_SMALL_FILES)), None)
    if base is None:
        raise DataError(
            f"{folder} has no movies.csv and ratings.csv (it has: {_listing(folder)}). "
            "Fix: pass the unzipped ml-latest-small folder."
        )
    return read_latest_small(base)


def _fetch_100k(cache):
    grouplens, recbole = cache / "ml-100k", cache / "ml-100k-recbole"
    if _complete(grouplens, GROUPLENS_FILES):
        return grouplens
    if _complete(recbole, _recbole_cached()):
        return recbole
    try:
        return _fetch.fetch_zip(ML_100K_URL, ML_100K_MD5, cache, "ml-100k",
                                GROUPLENS_FILES, _download)
    except (OSError, DataError) as error:
        first = f"{type(error).__name__}: {error}"
    try:
        return _fetch_recbole(cache, recbole)
    except (OSError, DataError) as error:
        second = f"{type(error).__name__}: {error}"
    raise DataError(
        f"Could not get MovieLens 100K. Downloading {ML_100K_URL} failed ({first}); "
        f"the fallback, RecBole's copy via `pip download --no-deps "
        f"{RECBOLE_REQUIREMENT}`, failed too ({second}). Fix: pass a local "
        f"folder, load_movielens_100k(path=...), holding {_FORMATS}."
    )


def _fetch_recbole(cache, target):
    with _fetch.temporary_folder(cache) as tmp:
        wheel = _pip_download_recbole(Path(tmp) / "pip")
        out = Path(tmp) / target.name
        out.mkdir()
        try:
            with zipfile.ZipFile(wheel) as zipped:
                for name, md5 in _recbole_cached().items():
                    data = zipped.read(RECBOLE_MEMBER_DIR + name)
                    if hashlib.md5(data).hexdigest() != md5:
                        raise DataError(
                            f"{wheel}: {RECBOLE_MEMBER_DIR}{name} has md5 "
                            f"{hashlib.md5(data).hexdigest()}, expected {md5}. Fix: "
                            "retry, or pass a local folder as path=."
                        )
                    (out / name).write_bytes(data)
        except (zipfile.BadZipFile, KeyError) as error:
            raise DataError(
                f"{wheel} is not the expected recbole wheel ({error}). Fix: retry, "
                "or pass a local folder as path=."
            ) from None
        _fetch.publish(out, target, lambda p: _complete(p, _recbole_cached()))
    return target


def _recbole_cached():
    """The files of a complete RecBole copy in the cache, with their md5s."""
    return {**RECBOLE_FILES, **RECBOLE_USERS}


def _complete(folder, names):
    return all((Path(folder) / name).is_file() for name in names)


def _listing(folder):
    names = sorted(p.name for p in Path(folder).iterdir())
    shown = ", ".join(names[:15]) + (f" and {len(names) - 15} more" if len(names) > 15 else "")
    return shown or "nothing"
