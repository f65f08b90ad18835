"""Which columns of your files `tfllmrec init` maps: guessed from the headers, checked against the values.

A header says what a column might be; its values say whether it is. The
item id column of the items file must share values with the interactions'
item ids (how many is reported), a text column must hold words rather than
ids or numbers, and a timestamp or weight column must parse as the loader
parses it. Where no column fits, the error lists the columns with a sample
of each; where two fit, a note says which was chosen and how to pick the
other.
"""

import re

from tfllmrec.data._values import parse_timestamps, parse_weights
from tfllmrec.data.tabular import read_table
from tfllmrec.errors import ConfigError, DataError

_USER = r"user|customer|client|member|reviewer|visitor|account|buyer"
_ITEM = r"item|product|sku|asin|movie|film|artist|track|song|news|article|doc|video|book"
_TIME = r"time|date|ts$|^ts|timestamp|when"
_WEIGHT = r"rating|weight|qty|quantity|count|plays|score|stars"
_TEXT = r"title|name|headline|description|desc|brand|categor|genre|tag|abstract|summary|text"
_WORD = re.compile(r"[^\W\d_]{2,}")  # two letters in a row
_SAMPLE = 1000  # values looked at to tell text from ids


def guess_columns(interactions, items):
    """The column mapping of two files, checked against their values.

    Args:
        interactions, items: str or Path. CSV/TSV/Parquet files.

    Returns:
        dict: "columns" (data.columns), "text_fields", "matched" ((item ids
        of the interactions found in the items file, all of them)) and
        "notes" (lines on choices made between columns that both fit).

    Raises:
        ConfigError: no column fits the user id, the item id or the text.
        DataError: a file is missing or unreadable (from the loader).
    """
    inter, table, notes = read_table(interactions), read_table(items), []
    user = _by_name(inter, _USER, "the user id", interactions, notes, "user_id")
    item, items_id, matched = _item_ids(inter, table, user, interactions, items, notes)
    columns = {"user_id": user, "item_id": item}
    if items_id != item:
        columns["items_item_id"] = items_id
    rest = [c for c in inter.columns if c not in (user, item)]
    for key, pattern, parse in (("timestamp", _TIME, parse_timestamps), ("weight", _WEIGHT, parse_weights)):
        found = _parsed(inter, [c for c in rest if re.search(pattern, c, re.I)], parse, interactions, key, notes)
        if found:
            columns[key] = found
    text = _text_fields(table, items_id, items, notes)
    return {"columns": columns, "text_fields": text, "matched": matched, "notes": notes}


def _values(frame, column):
    return frame[column].dropna().astype(str).str.strip()


def _sample(frame, column):
    shown = [v if len(v) <= 30 else v[:27] + "..." for v in _values(frame, column).unique()[:3]]
    return f"{column!r} (e.g. {', '.join(map(repr, shown))})" if shown else f"{column!r} (empty)"


def _listing(frame):
    return ", ".join(_sample(frame, c) for c in frame.columns)


def _id_first(columns):
    return sorted(columns, key=lambda c: (not re.search(r"id$|_id|Id$|ID", c), len(c)))


def _by_name(frame, pattern, what, path, notes, key):
    found = _id_first([c for c in frame.columns if re.search(pattern, c, re.I)])
    if not found:
        raise ConfigError(
            f"Cannot tell which column of {path} is {what}: no column name says so. Its columns: "
            f"{_listing(frame)}. Fix: rename that column (e.g. to {key}), then rerun init.")
    if len(found) > 1:
        notes.append(f"{what}: {', '.join(map(repr, found))} all fit by name; chose {found[0]!r}. To use "
                     f"another, set data.columns.{key} in the written config.yaml.")
    return found[0]


def _item_ids(inter, table, user, inter_path, items_path, notes):
    """(interactions column, items column, (matched, total)): the pair whose values meet."""
    named = _id_first([c for c in inter.columns if c != user and re.search(_ITEM, c, re.I)])
    tried = named + [c for c in inter.columns if c not in named and c != user]
    if not tried:
        raise ConfigError(f"{inter_path} has no column besides the user id {user!r} to hold item ids. "
                          "Fix: add the item id column (one row per user-item interaction).")
    for column in tried:
        ids = set(_values(inter, column))
        fits = [(len(ids & set(_values(table, c))), c) for c in table.columns]
        fits = sorted((f for f in fits if f[0]), key=lambda f: (-f[0], f[1] != column, f[1]))
        if fits:
            break
    else:
        raise ConfigError(
            f"Cannot find the item id column of {items_path}: none of its columns shares a value with the "
            f"item ids of {inter_path} (column {_sample(inter, tried[0])}). Its columns: "
            f"{_listing(table)}. Fix: add a column holding those item ids to {items_path} (one row per "
            "item, with its text), then rerun init.")
    if column != tried[0]:
        notes.append(f"item id: {tried[0]!r} of {inter_path} shares no value with {items_path}; chose "
                     f"{column!r}, whose values do.")
    (count, chosen), others = fits[0], fits[1:]
    if others:
        notes.append(f"item id: {items_path} columns {chosen!r} ({count} match) and "
                     + ", ".join(f"{c!r} ({n})" for n, c in others)
                     + f" all hold item ids of {inter_path}; chose {chosen!r}. To use another, set "
                     f"data.columns.items_item_id in the written config.yaml.")
    total = len(set(_values(inter, column)))
    if count < total:
        missing = sorted(set(_values(inter, column)) - set(_values(table, chosen)))[:3]
        notes.append(f"item id: {total - count} of the {total} item ids of {inter_path} are not in "
                     f"{items_path} (e.g. {', '.join(map(repr, missing))}); training refuses them. "
                     "Fix: add them to the items file, or drop those interactions.")
    return column, chosen, (count, total)


def _parsed(frame, found, parse, path, key, notes):
    """The first of `found` whose values the loader parses as a `key`; notes on the others."""
    for column in found:
        try:
            parse(frame[column], str(path), column)
        except DataError as error:
            notes.append(f"{key}: {column!r} fits by name but is left out: {error}")
            continue
        return column
    return None


def _holds_text(frame, column):
    """Most values have words: two letters in a row, and spaces or no digits (`p12`, `B00X1` are ids)."""
    values = _values(frame, column)[:_SAMPLE]
    values = values[values != ""]
    if not len(values):
        return False
    words = values.map(lambda v: bool(_WORD.search(v)) and (" " in v or not re.search(r"\d", v)))
    return bool(words.mean() >= 0.5)


def _text_fields(table, items_id, path, notes):
    others = [c for c in table.columns if c != items_id]
    texts = [c for c in others if _holds_text(table, c)]
    named = [c for c in others if re.search(_TEXT, c, re.I)]
    for column in named:
        if column not in texts:
            notes.append(f"item text: {_sample(table, column)} fits by name but holds ids or numbers, "
                         "not text; left out.")
    chosen = [c for c in named if c in texts]
    if not chosen:
        chosen = texts[:3]
        if chosen:
            notes.append(f"item text: no column name says title, name, description, ...; chose "
                         f"{', '.join(map(repr, chosen))} by their values.")
    unused = [c for c in texts if c not in chosen]
    if chosen and unused:
        notes.append(f"item text: {', '.join(map(repr, unused))} hold text too; to use them, add them "
                     "to data.text_fields in the written config.yaml.")
    if not chosen:
        raise ConfigError(
            f"Cannot find a text column in {path}: besides the item id {items_id!r}, no column holds "
            f"words (titles, descriptions). Its columns: {_listing(table)}. Fix: add a column of item "
            "titles or descriptions, then rerun init.")
    return chosen
