"""Loader for the raw Amazon review and metadata dumps (2014 and 2018 releases).

- 2014 (McAuley et al., jmcauley.ucsd.edu/data/amazon): reviews are JSON
  lines; metadata lines are Python literals (single quotes) whose
  `categories` is a list of category paths.
- 2018 (Ni et al., nijianmo.github.io/amazon): reviews and metadata are JSON
  lines; `category` is one path (a list of str), `description` a list of str.

Each line is read as JSON first and as a Python literal (`ast.literal_eval`,
never `eval`) when that fails, so either release, plain or gzipped, loads.
"""

import ast
import gzip
import html
import json
import re
import warnings
import zlib
from pathlib import Path

import pandas as pd

from tfllmrec.data._build import build_interactions
from tfllmrec.data._files import LINE
from tfllmrec.data.dataset import Dataset
from tfllmrec.data.items import Items
from tfllmrec.errors import DataError

TEXT_FIELDS = ("title", "brand", "categories")
_COLUMNS = {"user_id": "reviewerID", "item_id": "asin", "timestamp": "unixReviewTime",
            "weight": "overall"}
REVIEW_KEYS = tuple(_COLUMNS.values())
_GZIP_MAGIC = b"\x1f\x8b"
_ASIN = re.compile(r"""["']asin["']\s*:\s*(["'])([^"'\\]*)\1""")
_REPAIR = ("repair or delete that line, or download the file again (an "
           "interrupted download leaves a cut last line).")


def load_amazon_reviews(reviews, meta, name=None, text_fields=TEXT_FIELDS,
                        drop_unknown_items=True):
    """Loads an Amazon reviews file with its metadata file, either release.

    Interactions: user_id = reviewerID, item_id = asin, timestamp =
    unixReviewTime, weight = overall (the 1-5 star rating). A user who
    reviewed an item twice keeps the earliest review (ties: the first line).
    Items are the metadata rows of the reviewed items only: a metadata file
    covers a whole category, far more items than its 5-core reviews. Item
    fields: title, brand, categories and description, HTML entities decoded.
    `categories` is one category path joined by ", ": the 2018 `category`
    list, or the first path of the 2014 `categories` (its top level, e.g.
    "Office Products", is kept). A 2018 `description` list is joined by
    spaces. An asin listed twice in the metadata (the 2018 dumps hold some
    duplicates) keeps its first row. Metadata lines of items without
    reviews are skipped unparsed, so only the lines used are checked.

    Args:
        reviews: str or Path. Reviews, one record per line (.json or .json.gz).
        meta: str or Path. Metadata, one record per line (.json or .json.gz).
        name: str or None. The dataset's name; default "amazon-reviews".
        text_fields: tuple of str. Item fields joined into the text, from
            "title", "brand", "categories" and "description".
        drop_unknown_items: bool. Drop reviews of items without a metadata
            row, with a warning that counts them (the published metadata is
            known to be incomplete); False makes them a DataError.

    Returns:
        Dataset: interactions and items; no split, negatives or histories.

    Raises:
        DataError: a file is missing, empty, not gzip or UTF-8 where it
            should be; a line is neither JSON nor a Python literal, or lacks
            a key (reviewerID, asin, unixReviewTime, overall), or has a time
            that is not an integer; or no reviewed item has metadata.

    Example:
    >>> review = {"reviewerID": "A1", "asin": "B01", "unixReviewTime": 1400000000, "overall": 5.0}
    >>> reviews = [review, dict(review, reviewerID="A2", overall=4.0)]
    >>> _ = open("reviews.json", "w").write("".join(json.dumps(r) + "\\n" for r in reviews))
    >>> _ = open("meta.json", "w").write(  # a 2014 metadata line: a Python literal
    ...     "{'asin': 'B01', 'title': 'Gel pen &amp; refill', 'brand': 'Pilot', "
    ...     "'categories': [['Office Products', 'Pens']]}\\n")
    >>> dataset = load_amazon_reviews("reviews.json", "meta.json")
    >>> dataset
    Dataset('amazon-reviews': 2 interactions, 2 users, 1 items)
    >>> dataset.items.texts().tolist()  # title, brand, categories; HTML entities decoded
    ['Gel pen & refill. Pilot. Office Products, Pens']
    """
    reviews, meta = Path(reviews), Path(meta)
    interactions = _read_reviews(reviews)
    frame = interactions.frame
    items = _read_meta(meta, set(frame["item_id"]), text_fields)
    known = frame["item_id"].isin(items.ids).to_numpy()
    if not known.all():
        lines = frame.index[~known]
        count = (f"{len(lines)} review(s) of {frame['item_id'][~known].nunique()} "
                 f"item(s) have no row in {meta}; the first is on line {lines[0]}")
        if not drop_unknown_items:
            raise DataError(
                f"{reviews}: {count}. Fix: use the metadata file of the same "
                "category, or pass drop_unknown_items=True to drop those reviews."
            )
        warnings.warn(f"{reviews}: {count}. They are dropped.", stacklevel=2)
        interactions = interactions.filter(known)
    return Dataset(name or "amazon-reviews", interactions, items)


def _read_reviews(path):
    rows, lines = [], []
    for number, record in _records(path):
        missing = [key for key in REVIEW_KEYS if key not in record]
        if missing:
            raise DataError(
                f"{path}, line {number}: the review has no {', '.join(missing)} "
                f"(it has: {', '.join(map(str, record))}). Fix: if this is the "
                f"metadata file, pass it as meta=; otherwise {_REPAIR}"
            )
        time = record["unixReviewTime"]
        if not isinstance(time, int) or isinstance(time, bool):
            raise DataError(
                f"{path}, line {number}, key 'unixReviewTime': {time!r} is not an "
                f"integer Unix time. Fix: {_REPAIR}"
            )
        rows.append([record[key] for key in REVIEW_KEYS])
        lines.append(number)
    frame = pd.DataFrame(rows, columns=list(REVIEW_KEYS), index=pd.Index(lines, name=LINE))
    # Errors then name the file's keys (e.g. 'overall'), not ours.
    interactions = build_interactions(frame, path, _COLUMNS)
    # Keep each (user, item)'s earliest review; the stable sort keeps file
    # order among equal times, so the first line wins a tie.
    ordered = interactions.frame.sort_values("timestamp", kind="stable")
    repeated = ordered.duplicated(["user_id", "item_id"]).reindex(interactions.frame.index)
    return interactions.filter(~repeated.to_numpy())


def _read_meta(path, wanted, text_fields):
    def unwanted(line):
        found = [value for _, value in _ASIN.findall(line)]
        return bool(found) and not any(value in wanted for value in found)

    rows, lines = {}, []
    # A category's metadata is mostly items nobody reviewed in the 5-core
    # file, and literal_eval is slow: lines whose asin is visibly unwanted
    # are skipped unparsed (130,000 2014-style lines: 29 s -> 2 s).
    for number, record in _records(path, unwanted):
        asin = record.get("asin")
        if "reviewerID" in record or not isinstance(asin, str) or not asin.strip():
            what = ("is a review, not metadata" if "reviewerID" in record
                    else f"has no asin (asin={asin!r})")
            raise DataError(
                f"{path}, line {number}: the record {what}. Fix: if this is the "
                f"reviews file, pass it as reviews=; otherwise {_REPAIR}"
            )
        if asin in wanted and asin not in rows:
            rows[asin] = _item_fields(record)
            lines.append(number)
    if not rows:
        raise DataError(
            f"{path}: none of the reviewed items has a metadata row. Fix: pass "
            "the metadata file of the reviews' category (e.g. "
            "meta_Office_Products.json.gz with reviews_Office_Products_5.json.gz)."
        )
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.insert(0, "item_id", frame.index)
    frame.index = pd.Index(lines, name=LINE)
    return Items(frame, list(text_fields), source=str(path))


def _item_fields(record):
    paths = record.get("categories")
    if isinstance(paths, list) and paths and isinstance(paths[0], list):
        path = paths[0]  # 2014: a list of paths; the first is the main one
    else:
        path = record.get("category") or paths or []
    return {
        "title": _text(record.get("title")),
        "brand": _text(record.get("brand")),
        "categories": _text(path, ", "),
        "description": _text(record.get("description")),
    }


def _text(value, separator=" "):
    """A field as one string: lists are joined, None is ""."""
    if value is None:
        return ""
    if isinstance(value, list):
        return separator.join(part for part in map(_text, value) if part)
    return html.unescape(str(value)).strip()


def _records(path, skip=lambda line: False):
    """Yields (line number, dict) for each non-blank line of a plain or gzipped
    file, but for lines where `skip(line)` is True."""
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise DataError(f"{path} {what}. Fix: check the path.")
    with open(path, "rb") as handle:
        zipped = handle.read(2) == _GZIP_MAGIC
    found = False
    try:
        with (gzip.open if zipped else open)(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                line = _decode(path, number, raw)
                if line.strip():
                    found = True
                    if not skip(line):
                        yield number, _parse(path, number, line)
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DataError(
            f"{path}: the gzip data is broken or cut short ({error}). Fix: "
            "download the file again."
        ) from None
    if not found:
        raise DataError(
            f"{path} is empty (no records). Fix: point at the complete file; an "
            "interrupted download leaves empty files behind."
        )


def _decode(path, number, raw):
    try:
        return raw.decode("utf-8").lstrip("\ufeff") if number == 1 else raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path}, line {number}: byte 0x{raw[error.start:error.start + 1].hex()} "
            f"(byte {error.start + 1} of that line) is not valid UTF-8. Fix: "
            "re-encode the file as UTF-8 or download it again."
        ) from None


def _parse(path, number, line):
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        try:
            record = ast.literal_eval(line.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise DataError(
                f"{path}, line {number}: neither JSON nor a Python literal "
                f"(JSON: {error.msg} at character {error.pos + 1}). Fix: {_REPAIR}"
            ) from None
    if not isinstance(record, dict):
        raise DataError(
            f"{path}, line {number}: a record must be an object {{...}}, not "
            f"{type(record).__name__}. Fix: {_REPAIR}"
        )
    return record
