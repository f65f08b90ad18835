"""Loaders for news impressions in MIND's layout: MIND itself and NeMig.

Both ship `news.tsv` (one article per line) and `behaviors.tsv` (one
impression per line: the user's click history and the candidates shown,
each marked clicked or not), tab-separated and without a header:

- MIND (Wu et al., ACL 2020, https://msnews.github.io/): news columns
  `news_id, category, subcategory, title, abstract, url, title_entities,
  abstract_entities` (entities as JSON lists); behaviour columns
  `impression_id, user_id, time ("11/12/2019 2:14:46 PM"), history,
  impressions ("N123-1 N456-0")`. Fields are never quoted (a title may
  start with '"').
- NeMig (Iana et al., INRA@RecSys 2023; https://github.com/andreeaiana/nemig):
  MIND's behaviours without the time column (CRLF line endings); news
  columns `news_id, title, abstract, title_entities, abstract_entities,
  category, sentiment, political_leaning`, CSV-quoted where a field holds
  quotes, entities as Python literals (`[{'SurfaceForms': ..., 'WikidataId':
  ...}]`).
"""

import ast
import csv
import json
from pathlib import Path

import pandas as pd

from tfllmrec.data import _fetch
from tfllmrec.data._files import read_delimited
from tfllmrec.data._values import check_unique, parse_ids
from tfllmrec.data.dataset import Dataset
from tfllmrec.data.interactions import Interactions
from tfllmrec.data.items import Items
from tfllmrec.errors import DataError

_MIND = "https://mind201910small.blob.core.windows.net/release/MIND{size}_{part}.zip"
MIND_URLS = {size: {part: _MIND.format(size=size, part=part) for part in ("train", "dev")}
             for size in ("small", "large")}
NEMIG_COMMIT = "ce7f09eed94811aaf5774e4e45453ea1c8253c76"
NEMIG_URL = "https://raw.githubusercontent.com/andreeaiana/nemig_nrs/{commit}/data/{language}/{name}"
NEMIG_MD5 = {
    ("en", "news.tsv"): "efd2e5e097210a5ed9e56363478eb86b",
    ("en", "behaviors.tsv"): "a3f98fc8bb24bc9e9b6abfaa18d45c9a",
    ("de", "news.tsv"): "447f45d6dce8fa5e437e7b2af1d15d68",
    ("de", "behaviors.tsv"): "8f32b5ab5f96cd85a253b64c10e84d5f",
}
FILES = ("news.tsv", "behaviors.tsv")
MIND_NEWS = ["news_id", "category", "subcategory", "title", "abstract", "url",
             "title_entities", "abstract_entities"]
NEMIG_NEWS = ["news_id", "title", "abstract", "title_entities", "abstract_entities",
              "category", "sentiment", "political_leaning"]
MIND_BEHAVIORS = ["impression_id", "user_id", "time", "history", "impressions"]
NEMIG_BEHAVIORS = ["impression_id", "user_id", "history", "impressions"]
TEXT_FIELDS = ["title", "abstract", "category"]
_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"


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
    >>> dataset = load_mind("/data/MINDsmall")   # MINDsmall_train/ + MINDsmall_dev/
    """
    if missing_news not in ("error", "drop"):
        raise ValueError(f"missing_news={missing_news!r}: use 'error' or 'drop'.")
    if size not in MIND_URLS:
        raise ValueError(f"size={size!r}: use 'small' or 'large'.")
    parts = _mind_parts(Path(path)) if path is not None else _download_mind(size, cache_dir)
    items, frames = [], []
    for name, folder in parts:
        items.append(_read_news(folder / "news.tsv", MIND_NEWS, csv.QUOTE_NONE, json.loads))
    items = pd.concat(items)
    items = items[~items["item_id"].duplicated()]  # the same article is in train and dev
    known = set(items["item_id"])
    for name, folder in parts:
        frame = _read_behaviors(folder / "behaviors.tsv", True, known, missing_news)
        frame["part"] = name
        frames.append(frame)
    impressions = pd.concat(frames)
    impressions.attrs["dropped_ids"] = sum(f.attrs["dropped_ids"] for f in frames)
    source = str(parts[0][1] / "news.tsv")
    return _dataset("mind", items, ["subcategory", "entities"], impressions, source,
                    str(parts[0][1] / "behaviors.tsv"))


def load_nemig(path=None, language="en", cache_dir=None):
    """Loads NeMig (migration news, user studies in the US and Germany).

    Every history, candidate and clicked id has its article in news.tsv;
    an id that does not is a DataError naming its line. Users have exactly
    5 impressions and one history each; there are no timestamps and no
    official split (see `impression_split`).

    Args:
        path: str, Path or None. The language folder (holding news.tsv and
            behaviors.tsv) or the folder holding `en/` and `de/`. None
            downloads `language` from the authors' repository (`NEMIG_URL`,
            commit `NEMIG_COMMIT`, md5-checked) into `cache_dir` on first use.
        language: str. "en" or "de".
        cache_dir: str, Path or None. Download cache; default ~/.cache/tfllmrec.

    Returns:
        Dataset named "nemig-<language>": items = news with text "title.
        abstract. topic" (the topic label with spaces for underscores;
        sentiment, political_leaning and Wikidata `entities` categorical),
        interactions = clicks in impressions, `histories`, `impressions`.

    Example:
    >>> dataset = load_nemig("/data/nemig/en")
    >>> len(dataset.impressions), len(dataset.histories)
    (15000, 3000)
    """
    if language not in ("en", "de"):
        raise ValueError(f"language={language!r}: use 'en' or 'de'.")
    if path is None:
        folder = _download_nemig(language, cache_dir)
    else:
        folder = Path(path)
        if not (folder / "news.tsv").is_file() and (folder / language / "news.tsv").is_file():
            folder = folder / language
        _require_files(folder, f"the NeMig language folder (e.g. nemig/{language}, from "
                       f"{NEMIG_URL.format(commit=NEMIG_COMMIT, language=language, name='')})")
    items = _read_news(folder / "news.tsv", NEMIG_NEWS, csv.QUOTE_MINIMAL, ast.literal_eval)
    items["category"] = items["category"].str.replace("_", " ")
    impressions = _read_behaviors(folder / "behaviors.tsv", False, set(items["item_id"]), "error")
    return _dataset(f"nemig-{language}", items, ["sentiment", "political_leaning", "entities"],
                    impressions, str(folder / "news.tsv"), str(folder / "behaviors.tsv"))


def _dataset(name, items, categorical, impressions, news_source, behaviors_source):
    histories = {}
    for user, history in zip(impressions["user_id"], impressions["history"]):
        # Fixed per user in MIND and NeMig; if two impressions disagree, the longer wins.
        if len(history) >= len(histories.get(user, ())):
            histories[user] = list(history)
    clicks = impressions[["user_id", "candidates", "labels", "timestamp"]].copy()
    clicks["item_id"] = [[c for c, y in zip(cs, ys) if y] for cs, ys in
                         zip(clicks["candidates"], clicks["labels"])]
    clicks = clicks.explode("item_id").dropna(subset=["item_id"])
    if clicks.empty:
        raise DataError(f"{behaviors_source}: no impression has a click (label 1). Fix: point "
                        "at a behaviors.tsv with labelled impressions.")
    interactions = Interactions(clicks[["user_id", "item_id", "timestamp"]], source=behaviors_source)
    items = Items(items, TEXT_FIELDS, categorical_fields=categorical, source=news_source)
    impressions = impressions.drop(columns="history")
    return Dataset(name, interactions, items, histories=histories, impressions=impressions)


def _read_news(path, columns, quoting, parse_literal):
    raw = read_delimited(path, "\t", names=columns, quoting=quoting)
    ids = parse_ids(raw["news_id"].str.strip(), str(path), "news_id")
    check_unique(ids, str(path), "news_id")
    frame = raw.drop(columns=["title_entities", "abstract_entities"]).assign(item_id=ids)
    frame["entities"] = [
        " ".join(dict.fromkeys(_entities(path, line, "title_entities", title, parse_literal)
                               + _entities(path, line, "abstract_entities", abstract, parse_literal)))
        for line, title, abstract in zip(raw.index, raw["title_entities"], raw["abstract_entities"])
    ]
    return frame


def _entities(path, line, column, text, parse_literal):
    """The Wikidata ids ('Q96') of one entity column ('' and '[]' are none)."""
    text = text.strip()
    if not text:
        return []
    kind = "JSON" if parse_literal is json.loads else "a Python literal"
    try:
        entities = parse_literal(text)
        ids = [str(e["WikidataId"]).rstrip("/").rsplit("/", 1)[-1] for e in entities]
    except (ValueError, SyntaxError, TypeError, KeyError, MemoryError, RecursionError):
        raise DataError(
            f"{path}, line {line}, column {column!r}: {text[:60]!r} is not a list of "
            f"entities ({kind}: [{{..., 'WikidataId': ...}}]). Fix: repair the field, "
            "or leave it empty when the article has no entities."
        ) from None
    return ids


def _read_behaviors(path, with_time, known, missing_news):
    """One row per impression: ids, history, candidates, labels, timestamp."""
    columns = MIND_BEHAVIORS if with_time else NEMIG_BEHAVIORS
    raw = read_delimited(path, "\t", names=columns, quoting=csv.QUOTE_NONE)
    ids = parse_ids(raw["impression_id"].str.strip(), str(path), "impression_id")
    check_unique(ids, str(path), "impression_id")
    users = parse_ids(raw["user_id"].str.strip(), str(path), "user_id")
    timestamps = pd.array([pd.NA] * len(raw), dtype="Int64")
    if with_time:
        times = pd.to_datetime(raw["time"].str.strip(), format=_TIME_FORMAT, errors="coerce")
        if times.isna().any():
            line = times.index[times.isna().to_numpy()][0]
            raise DataError(
                f"{path}, line {line}, column 'time': {raw.at[line, 'time']!r} is not a time "
                "like '11/12/2019 2:14:46 PM' (MIND's M/D/YYYY h:mm:ss AM/PM). Fix: repair "
                "the field, or check that the file is MIND's behaviors.tsv (NeMig's has no "
                "time column: load it with load_nemig)."
            )
        timestamps = pd.array(times.to_numpy().astype("datetime64[s]").astype("int64"), dtype="Int64")
    rows, dropped = [], 0
    for line, history, shown in zip(raw.index, raw["history"], raw["impressions"]):
        history = history.split()
        candidates, labels = [], []
        for token in shown.split():
            news, dash, label = token.rpartition("-")
            if not dash or not news or label not in ("0", "1"):
                raise DataError(
                    f"{path}, line {line}, column 'impressions': {token!r} is not "
                    "NEWSID-LABEL ('N123-1' for a click, 'N456-0' for none). Fix: repair "
                    "the field; unlabelled impressions (MIND-large's test part) cannot be "
                    "evaluated here: score them with the MIND leaderboard instead."
                )
            candidates.append(news)
            labels.append(int(label))
        unknown = [n for n in history + candidates if n not in known]
        if unknown and missing_news == "error":
            column = "history" if unknown[0] in history else "impressions"
            raise DataError(
                f"{path}, line {line}, column {column!r}: news id {unknown[0]!r} is not in "
                f"{path.with_name('news.tsv')}. Fix: use the news.tsv released with this "
                "behaviors.tsv (MIND's train and dev parts each ship their own), or, for a "
                "sample cut from MIND, load_mind(path, missing_news='drop')."
            )
        if unknown:
            dropped += len(unknown)
            history = [n for n in history if n in known]
            kept = [(n, y) for n, y in zip(candidates, labels) if n in known]
            candidates, labels = [n for n, _ in kept], [y for _, y in kept]
        if not candidates and not unknown:
            raise DataError(f"{path}, line {line}, column 'impressions': no candidates. Fix: "
                            "list the news shown as NEWSID-LABEL, or delete the line.")
        rows.append((history, candidates, labels))
    frame = pd.DataFrame({
        "impression_id": ids, "user_id": users,
        "history": [r[0] for r in rows], "candidates": [r[1] for r in rows],
        "labels": [r[2] for r in rows], "timestamp": timestamps,
    }, index=raw.index)
    frame = frame[[len(c) > 0 for c in frame["candidates"]]]
    frame.attrs["dropped_ids"] = dropped
    return frame


def _mind_parts(folder):
    """[(part name, folder)]: the folder itself, or its sub-folders with both files."""
    if (folder / "news.tsv").is_file() or not folder.is_dir():
        _require_files(folder, "a MIND folder (e.g. MINDsmall_train, unzipped from "
                       f"{MIND_URLS['small']['train']})")
        return [(_part_name(folder), folder)]
    subfolders = sorted(p for p in folder.iterdir() if all((p / f).is_file() for f in FILES))
    if not subfolders:
        _require_files(folder, "a MIND folder (news.tsv and behaviors.tsv), or one holding "
                       "MINDsmall_train/ and MINDsmall_dev/")
    order = {"train": 0, "dev": 1, "test": 2}  # MIND's time order
    return sorted(((_part_name(p), p) for p in subfolders), key=lambda part: order.get(part[0], 3))


def _part_name(folder):
    name = folder.name.lower()
    for part in ("train", "dev", "test"):
        if name.endswith(part):
            return part
    return folder.name


def _require_files(folder, what):
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise DataError(f"{folder} lacks {missing}. Fix: pass {what}.")


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


def _download_nemig(language, cache_dir):
    cache = _fetch.cache_folder(cache_dir)
    target = cache / "nemig" / language
    if all((target / f).is_file() for f in FILES):
        return target
    (cache / "nemig").mkdir(parents=True, exist_ok=True)
    with _fetch.temporary_folder(cache / "nemig") as tmp:
        tmp = Path(tmp) / language
        tmp.mkdir()
        for name in FILES:
            url = NEMIG_URL.format(commit=NEMIG_COMMIT, language=language, name=name)
            try:
                _fetch.download(url, tmp / name)
            except OSError as error:
                raise DataError(
                    f"Could not download {url} ({error}). Fix: download news.tsv and "
                    f"behaviors.tsv of data/{language}/ from github.com/andreeaiana/nemig_nrs "
                    f"and pass their folder: load_nemig(path='.../nemig/{language}')."
                ) from None
            if _fetch.md5_of(tmp / name) != NEMIG_MD5[language, name]:
                raise DataError(f"{url}: the download's md5 is not {NEMIG_MD5[language, name]}; "
                                "it is corrupt or changed upstream. Fix: retry, or pass path=.")
        _fetch.publish(tmp, target, lambda p: all((p / f).is_file() for f in FILES))
    return target
