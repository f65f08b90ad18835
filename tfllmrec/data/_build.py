"""Builds `Interactions` from raw file columns, naming the file's own columns in errors."""

import pandas as pd

from tfllmrec.data._values import check_unique, parse_ids, parse_timestamps, parse_weights
from tfllmrec.data.interactions import Interactions

_PARSERS = {
    "user_id": parse_ids,
    "item_id": parse_ids,
    "weight": parse_weights,
    "timestamp": parse_timestamps,
}


def build_interactions(raw, source, columns):
    """Parses `raw` columns into an Interactions.

    Args:
        raw: pandas.DataFrame. As read from the file (index = line numbers).
        source: str or Path. The file.
        columns: dict. Maps "user_id", "item_id" and optionally "weight" and
            "timestamp" to column names of `raw`.
    """
    frame = pd.DataFrame(index=raw.index)
    for ours, theirs in columns.items():
        frame[ours] = _PARSERS[ours](raw[theirs], str(source), theirs)
    return Interactions(frame, source=str(source))


def item_ids(raw, source, column):
    """The unique item ids of an items file, as strings."""
    ids = parse_ids(raw[column], str(source), column)
    check_unique(ids, str(source), column)
    return ids
