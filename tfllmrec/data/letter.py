"""Loader for Amazon Scientific in LETTER (LC-Rec) JSON format.

LETTER-style repositories ship each dataset as two JSON files:
`<Name>.inter.json` = {user id: [item ids, oldest first]} and
`<Name>.item.json` = {item id: {"title", "description", "brand",
"categories"}}. The copy read here is CollisionGenRec's `data/Scientific/`
(Amazon-2018 Industrial & Scientific, 5-core).
"""

import json

import pandas as pd

from tfllmrec.data import _fetch
from tfllmrec.data._files import ROW, read_text
from tfllmrec.data.dataset import Dataset
from tfllmrec.data.interactions import Interactions
from tfllmrec.data.items import Items
from tfllmrec.data.rechorus import dataset_folder
from tfllmrec.errors import DataError

NAME = "amazon-scientific"
BASE_URL = ("https://raw.githubusercontent.com/Nishikata97/CollisionGenRec/"
            "505d5be3166f7c38ae67957daf8a3b7ec7092577/data/Scientific/")
FILES = {
    "Scientific.inter.json": "d035ed344f4c2c68759f8c46baa7d482",
    "Scientific.item.json": "cb33b24cb65a0776271b55b64f6ac9a2",
}
TEXT_FIELDS = ("title", "brand", "categories")
ITEM_FIELDS = ("title", "description", "brand", "categories")
_RESTORE = "Fix: restore the file (delete it and download it again: md5s in letter.FILES)."


def _download(url, dest):
    """Fetches `url` into the file `dest` (a module function so tests can replace it)."""
    _fetch.download(url, dest)


def load_amazon_scientific(path=None, cache_dir=None, text_fields=TEXT_FIELDS):
    """Loads Amazon Scientific (LETTER files): 58,492 interactions, 8,317 users, 4,344 items.

    The files keep each user's items in time order but no times, so the
    timestamp is the item's position in its user's sequence (0, 1, 2, ...):
    `leave_one_out` then holds out each user's last item, as LETTER does.
    Times of different users are not comparable. Weight is 1.0.

    Args:
        path: str, Path or None. A folder with Scientific.inter.json and
            Scientific.item.json; None downloads CollisionGenRec's copy
            (commit 505d5be, md5-checked) into `cache_dir` on first use.
        cache_dir: str, Path or None. Download cache; default ~/.cache/tfllmrec.
        text_fields: tuple of str. Item fields joined into the text, from
            "title", "description", "brand" and "categories" (a
            comma-separated path, kept as written).

    Returns:
        Dataset named "amazon-scientific": item ids "0".."4343", user ids as
        in the file; interactions indexed by row 1..n in file order. No
        shipped split or negatives.

    Raises:
        DataError: a file is missing or not JSON (naming its line and
            column), a sequence or item entry has the wrong shape, or an
            interaction names an item missing from the item file.

    Example:
    >>> import os; os.makedirs("scientific")
    >>> item = {"title": "Beaker", "description": "", "brand": "Acme", "categories": "Lab, Glass"}
    >>> _ = open("scientific/Scientific.item.json", "w").write(json.dumps(
    ...     {"0": item, "1": dict(item, title="Pipette"), "2": dict(item, title="Gloves")}))
    >>> _ = open("scientific/Scientific.inter.json", "w").write(
    ...     json.dumps({"A1": [0, 1, 2], "A2": [2, 0]}))
    >>> dataset = load_amazon_scientific("scientific")
    >>> str(dataset.items.texts(["0"])[0]), dataset.interactions.frame["timestamp"].tolist()
    ('Beaker. Acme. Lab, Glass', [0, 1, 2, 0, 1])
    >>> from tfllmrec.data import leave_one_out
    >>> leave_one_out(dataset.interactions).test.frame[["user_id", "item_id"]].values.tolist()
    [['A1', '2']]
    """
    folder = dataset_folder(path, cache_dir, NAME, BASE_URL, FILES, _download)
    item_path, inter_path = folder / "Scientific.item.json", folder / "Scientific.inter.json"
    items = _read_items(item_path, text_fields)
    interactions = _read_sequences(inter_path, set(items.ids), item_path)
    return Dataset(NAME, interactions, items)


def _read_object(path):
    """The file's JSON object; a syntax error names its line and column."""
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path}, line {error.lineno}, column {error.colno}: not valid JSON "
            f"({error.msg}). {_RESTORE}"
        ) from None
    if not isinstance(data, dict):
        raise DataError(
            f"{path}: holds a JSON {type(data).__name__}, not an object {{...}}. {_RESTORE}"
        )
    return data


def _read_items(path, text_fields):
    rows = []
    for item, fields in _read_object(path).items():
        wrong = ([f for f in ITEM_FIELDS if not isinstance(fields.get(f), str)]
                 if isinstance(fields, dict) else list(ITEM_FIELDS))
        if wrong:
            raise DataError(
                f"{path}, item {item!r}: {', '.join(wrong)} must be strings "
                f"(found {str(fields)[:80]}). {_RESTORE}"
            )
        rows.append({"item_id": item, **{f: fields[f] for f in ITEM_FIELDS}})
    frame = pd.DataFrame(rows, columns=["item_id", *ITEM_FIELDS])
    frame.index = pd.RangeIndex(1, len(frame) + 1, name=ROW)
    return Items(frame, list(text_fields), source=str(path))


def _read_sequences(path, known, item_path):
    users, items, positions = [], [], []
    for user, sequence in _read_object(path).items():
        if not isinstance(sequence, list) or not sequence:
            raise DataError(
                f"{path}, user {user!r}: {str(sequence)[:80]} is not a non-empty "
                f"list of item ids. {_RESTORE}"
            )
        for position, item in enumerate(sequence):
            if isinstance(item, bool) or not isinstance(item, int) or str(item) not in known:
                raise DataError(
                    f"{path}, user {user!r}, position {position}: item {item!r} is "
                    f"not an integer id listed in {item_path}. {_RESTORE}"
                )
        users.extend([user] * len(sequence))
        items.extend(str(i) for i in sequence)
        positions.extend(range(len(sequence)))
    frame = pd.DataFrame({"user_id": users, "item_id": items, "timestamp": positions})
    frame.index = pd.RangeIndex(1, len(frame) + 1, name=ROW)
    return Interactions(frame, source=str(path))
