"""Loader for MIND (Wu et al., ACL 2020, https://msnews.github.io/).

News columns `news_id, category, subcategory, title, abstract, url,
title_entities, abstract_entities` (entities as JSON lists); behaviour
columns `impression_id, user_id, time ("11/12/2019 2:14:46 PM"), history,
impressions ("N123-1 N456-0")`. Fields are never quoted (a title may start
with '"'). The shared readers are in `_mind_format.py`; NeMig, which uses
the same layout, in `nemig.py`.
"""

import csv
import json
from pathlib import Path

import pandas as pd

from tfllmrec.data import _fetch
from tfllmrec.data._mind_format import FILES, build_dataset, read_behaviors, read_news, require_files
from tfllmrec.errors import DataError

_MIND = "https://mind201910small.blob.core.windows.net/release/MIND{size}_{part}.zip"
MIND_URLS = {size: {part: _MIND.format(size=size, part=part) for part in ("train", "dev")}
             for size in ("small", "large")}
MIND_NEWS = ["news_id", "category", "subcategory", "title", "abstract", "url",
             "title_entities", "abstract_entities"]


def load_mind(path=None, size="small", cache_dir=None, missing_news="error"):
    """Loads MIND: news texts, click histories and labelled impressions.

    Args:
        path: str, Path or None. A folder holding `news.tsv` and
            `behaviors.tsv`, or one whose sub-folders do (e.g. `MINDsmall_train/`
            and `MINDsmall_dev/`: their impressions are concatenated, each
            marked with its part, "train" or "dev"). None downloads MIND-`size`
            train and dev (from `MIND_URLS`) into `cache_dir` on first use.
        size: str. "small" or "large" (downloads only).
        cache_dir: str, Path or None. Download cache; default ~/.cache/tfllmrec.
        missing_news: str. "error": a history or candidate id absent from
            news.tsv is a DataError naming its line; "drop": such ids are
            removed (impressions left without candidates too), counted in
            `dataset.impressions.attrs["dropped_ids"]`. Official MIND files
            are complete; samples cut from them often are not.

    Returns:
        Dataset named "mind": items = news with text "title. abstract.
        category" (subcategory and Wikidata `entities` as categorical fields),
        interactions = clicks in impressions (with timestamps), `histories`
        and `impressions` (with `timestamp` and `part`).

    Example:
    >>> folder = Path("MINDsmall/MINDsmall_train"); folder.mkdir(parents=True)
    >>> _ = (folder / "news.tsv").write_text(
    ...     "N1\\tsports\\tgolf\\tA great putt\\tShe wins.\\t\\t[]\\t[]\\n"
    ...     "N2\\tnews\\tworld\\tTalks resume\\t\\t\\t[]\\t[]\\n")
    >>> _ = (folder / "behaviors.tsv").write_text(
    ...     "1\\tU7\\t11/12/2019 2:14:46 PM\\tN2\\tN1-1 N2-0\\n")
    >>> dataset = load_mind("MINDsmall")  # its MINDsmall_train/ (and MINDsmall_dev/, if there)
    >>> dataset.items.texts().tolist(), dataset.histories
    (['A great putt. She wins. sports', 'Talks resume. news'], {'U7': ['N2']})
    >>> row = dataset.impressions.iloc[0]
    >>> row["candidates"], row["labels"], int(row["timestamp"]), row["part"]
    (['N1', 'N2'], [1, 0], 1573568086, 'train')
    """
    if missing_news not in ("error", "drop"):
        raise ValueError(f"missing_news={missing_news!r}: use 'error' or 'drop'.")
    if size not in MIND_URLS:
        raise ValueError(f"size={size!r}: use 'small' or 'large'.")
    parts = _mind_parts(Path(path)) if path is not None else _download_mind(size, cache_dir)
    items, frames = [], []
    for name, folder in parts:
        items.append(read_news(folder / "news.tsv", MIND_NEWS, csv.QUOTE_NONE, json.loads))
    items = pd.concat(items)
    items = items[~items["item_id"].duplicated()]  # the same article is in train and dev
    known = set(items["item_id"])
    for name, folder in parts:
        frame = read_behaviors(folder / "behaviors.tsv", True, known, missing_news)
        frame["part"] = name
        frames.append(frame)
    impressions = pd.concat(frames)
    impressions.attrs["dropped_ids"] = sum(f.attrs["dropped_ids"] for f in frames)
    source = str(parts[0][1] / "news.tsv")
    return build_dataset("mind", items, ["subcategory", "entities"], impressions, source,
                         str(parts[0][1] / "behaviors.tsv"))


def _mind_parts(folder):
    """[(part name, folder)]: the folder itself, or its sub-folders with both files."""
    if (folder / "news.tsv").is_file() or not folder.is_dir():
        require_files(folder, "a MIND folder (e.g. MINDsmall_train, unzipped from "
                      f"{MIND_URLS['small']['train']})")
        return [(_part_name(folder), folder)]
    subfolders = sorted(p for p in folder.iterdir() if all((p / f).is_file() for f in FILES))
    if not subfolders:
        require_files(folder, "a MIND folder (news.tsv and behaviors.tsv), or one holding "
                      "MINDsmall_train/ and MINDsmall_dev/")
    order = {"train": 0, "dev": 1, "test": 2}  # MIND's time order
    return sorted(((_part_name(p), p) for p in subfolders), key=lambda part: order.get(part[0], 3))


def _part_name(folder):
    name = folder.name.lower()
    for part in ("train", "dev", "test"):
        if name.endswith(part):
            return part
    return folder.name


def _download_mind(size, cache_dir):
    cache = _fetch.cache_folder(cache_dir)
    parts = []
    for part, url in MIND_URLS[size].items():
        name = f"MIND{size}_{part}"
        if not all((cache / name / f).is_file() for f in FILES):
            try:
                _fetch.fetch_zip(url, None, cache, name, FILES, _fetch.download, inner="")
            except (OSError, DataError) as error:
                raise DataError(
                    f"Could not download {url} ({error}). Fix: download MIND from "
                    "https://msnews.github.io/, unzip it, and pass the folder: "
                    "load_mind(path='.../MINDsmall')."
                ) from None
        parts.append((part, cache / name))
    return parts
