"""Downloads into the cache so that no reader ever sees a partial file.

Everything is written under a temporary dot-folder inside the cache folder and
renamed into place only when complete and verified; the rename is atomic
because both sit on the same filesystem. A failed or killed download leaves at
most a stray `.tmp-*` folder, which no loader looks at.
"""

import hashlib
import os
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from tfllmrec.cache import cache_dir as default_cache_dir
from tfllmrec.errors import DataError

TIMEOUT_S = 60


def cache_folder(cache_dir):
    """The cache folder to use: `cache_dir`, or $TFLLMREC_CACHE / ~/.cache/tfllmrec."""
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()


def download(url, dest):
    """Streams `url` into the file `dest`.

    Raises:
        OSError: the network or the server failed (urllib's errors are OSErrors).
    """
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out, length=1 << 20)


def md5_of(path):
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def temporary_folder(cache):
    """A fresh `.tmp-*` folder inside `cache` (a context manager)."""
    cache.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=".tmp-", dir=cache)


def publish(folder, target, complete):
    """Renames `folder` to `target`, unless a complete `target` already exists.

    Args:
        folder: Path. The finished folder, on the same filesystem as `target`.
        target: Path.
        complete: callable(Path) -> bool. Whether a folder is fully written;
            another process may have published the same data meanwhile.
    """
    if target.exists() and not complete(target):
        # Left incomplete by hand or by another tool: move it into the
        # temporary folder, which is deleted afterwards, and replace it.
        os.rename(target, folder.parent / f".stale-{target.name}")
    try:
        os.rename(folder, target)
    except OSError:
        if not complete(target):
            raise


def fetch_zip(url, md5, cache, folder, required, download_fn, inner=None):
    """Downloads a zip, checks it, and extracts its `folder` to `cache/folder`.

    Args:
        url: str.
        md5: str or None. Expected checksum of the zip; None checks only the
            zip's own CRCs.
        cache: Path. The cache folder.
        folder: str. The top folder inside the zip, e.g. "ml-100k".
        required: tuple of str. Files that must be inside `folder`.
        download_fn: callable(url, dest). Does the transfer.
        inner: str or None. The folder inside the zip when it differs from
            `folder`; "" for a zip whose files sit at its top level.

    Returns:
        Path: `cache / folder`.

    Raises:
        OSError: the download failed.
        DataError: wrong checksum, a broken zip, or required files missing.
    """
    target = cache / folder
    with temporary_folder(cache) as tmp:
        archive = Path(tmp) / "download.zip"
        download_fn(url, archive)
        if md5 is not None and md5_of(archive) != md5:
            raise DataError(
                f"{url}: the downloaded file's md5 is {md5_of(archive)}, expected "
                f"{md5}; the download is corrupt or the file changed upstream. Fix: "
                "retry, or download and unzip it by hand and pass its folder as path=."
            )
        extracted = Path(tmp) / "extracted"
        try:
            with zipfile.ZipFile(archive) as zipped:
                broken = zipped.testzip()
                if broken is not None:
                    raise zipfile.BadZipFile(f"bad CRC for {broken}")
                # extractall drops absolute paths and "..", so members stay inside.
                zipped.extractall(extracted)
        except zipfile.BadZipFile as error:
            raise DataError(
                f"{url}: the download is not a valid zip ({error}). Fix: retry, or "
                "download and unzip it by hand and pass its folder as path=."
            ) from None
        inner = folder if inner is None else inner
        missing = [name for name in required if not (extracted / inner / name).is_file()]
        if missing:
            raise DataError(
                f"{url}: the zip has no {Path(inner, missing[0])}. Fix: download and "
                "unzip it by hand and pass its folder as path=."
            )
        publish(extracted / inner, target, lambda p: all((p / n).is_file() for n in required))
    return target
