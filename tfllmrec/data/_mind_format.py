"""Readers shared by the MIND and NeMig loaders: both ship MIND's layout.

Both ship `news.tsv` (one article per line) and `behaviors.tsv` (one
impression per line: the user's click history and the candidates shown,
each marked clicked or not), tab-separated and without a header. The
column lists differ (see `mind.py` and `nemig.py`).
"""

import csv
import json

import pandas as pd

from tfllmrec.data._files import existing_folder, read_delimited
from tfllmrec.data._values import check_unique, parse_ids
from tfllmrec.data.dataset import Dataset
from tfllmrec.data.interactions import Interactions
from tfllmrec.data.items import Items
from tfllmrec.errors import DataError

FILES = ("news.tsv", "behaviors.tsv")
MIND_BEHAVIORS = ["impression_id", "user_id", "time", "history", "impressions"]
NEMIG_BEHAVIORS = ["impression_id", "user_id", "history", "impressions"]
TEXT_FIELDS = ["title", "abstract", "category"]
_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"


def build_dataset(name, items, categorical, impressions, news_source, behaviors_source):
    """A `Dataset` of news `items` and the `impressions` read from their files."""
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


def read_news(path, columns, quoting, parse_literal):
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


def read_behaviors(path, with_time, known, missing_news):
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


def require_files(folder, what):
    """A DataError naming the missing files of `folder`; `what` says what to pass instead."""
    missing = [f for f in FILES if not (existing_folder(folder) / f).is_file()]
    if missing:
        raise DataError(f"{folder} lacks {missing}. Fix: pass {what}.")
