"""Writing files so that readers see the old content or the new, never half."""

import os
import tempfile
from pathlib import Path


def write_atomic(path, data):
    """Writes `data` (str or bytes) to `path` through a temporary sibling and a rename.

    The temporary file sits in the same folder (so the rename is atomic) and
    is removed if the write fails; a killed process leaves at most a
    `.NAME.*.tmp` file beside the old one.

    The folder must exist already.

    Example:
    >>> write_atomic("metrics.json", '{"test": {}}')
    >>> open("metrics.json").read()
    '{"test": {}}'
    >>> write_atomic("metrics.json", b'{"test": {"recall@10": 0.5}}')
    >>> sorted(os.listdir("."))  # no temporary file is left behind
    ['metrics.json']
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def require_path(path, kind, what, fix, error):
    """`Path(path)` if it exists and is a `kind`; else raises `error(message)`.

    Args:
        path: str or Path.
        kind: "file" or "folder".
        what: str. How the message names the path, e.g. "Run folder".
        fix: str. The fix, e.g. "pass the folder `tfllmrec train --output` wrote".
        error: the exception class to raise.

    Example:
    >>> require_path("nowhere", "folder", "Models root", "check the path", ValueError)
    Traceback (most recent call last):
    ...
    ValueError: Models root nowhere does not exist. Fix: check the path.
    """
    path = Path(path)
    if path.is_dir() if kind == "folder" else path.is_file():
        return path
    other = "folder" if kind == "file" else "file"
    state = f"is a {other}, not a {kind}" if path.exists() else "does not exist"
    raise error(f"{what} {path} {state}. Fix: {fix}.")


def require_creatable_folder(path, what, fix, error):
    """`Path(path)` if it is a folder or can be made one: no file is in its place or above it.

    Example:
    >>> _ = open("notes.txt", "w").write("x")
    >>> require_creatable_folder("notes.txt/run", "Output folder", "choose another path", ValueError)
    Traceback (most recent call last):
    ...
    ValueError: Output folder notes.txt/run cannot be created: notes.txt is a file. Fix: choose another path.
    >>> os.remove("notes.txt")
    """
    path = Path(path)
    for folder in (path, *path.parents):
        if folder.exists() and not folder.is_dir():
            state = "is a file, not a folder" if folder == path else f"cannot be created: {folder} is a file"
            raise error(f"{what} {path} {state}. Fix: {fix}.")
        if folder.exists():
            break
    return path
