"""Trains the `news` recipe (NeMig English) from this folder's config.yaml.

Usage:
    python zoo/news/train.py [--set key=value ...] [--output DIR]

Same as `tfllmrec train zoo/news/config.yaml ...`; see README.md here for
the measured results and `seeds.py` for the 5-seed table.
"""

import sys
from pathlib import Path

from tfllmrec.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", str(Path(__file__).with_name("config.yaml")), *sys.argv[1:]]))
