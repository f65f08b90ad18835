"""Where tfllmrec caches downloads and text embeddings."""

import os
from pathlib import Path


def cache_dir():
    """`$TFLLMREC_CACHE`, or `~/.cache/tfllmrec`."""
    return Path(os.environ.get("TFLLMREC_CACHE", "~/.cache/tfllmrec")).expanduser()
