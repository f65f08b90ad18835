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
