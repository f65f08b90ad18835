"""Writes a folder so that readers see all of it or none of it."""

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_dir(target, overwrite=False):
    """Yields a temporary sibling folder that is renamed to `target` on success.

    TF Serving polls model folders: it must never see a half-written version.
    The temporary folder sits beside `target` (same filesystem, so the rename
    is atomic) under a dot-name that TF Serving ignores, and is removed when
    the block raises or the process is killed before the rename.

    Args:
        target: str or Path. The folder to create.
        overwrite: bool. Replace an existing `target`; otherwise refuse.

    Example:
    >>> with atomic_dir("out/1") as tmp:
    ...     _ = (tmp / "file.txt").write_text("done")
    ...     print(os.path.exists("out/1"))  # not visible until the block ends
    False
    >>> sorted(os.listdir("out")), open("out/1/file.txt").read()
    (['1'], 'done')
    >>> with atomic_dir("out/1", overwrite=True) as tmp:
    ...     _ = (tmp / "other.txt").write_text("new")
    >>> os.listdir("out/1")  # the whole folder was replaced
    ['other.txt']
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"{target} already exists; choose another path or pass overwrite=True."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.rename(target, old)
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
