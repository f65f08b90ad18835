"""Loads your own interactions and items from CSV, TSV or Parquet files."""

from pathlib import Path

import pandas as pd

from tfllmrec.data._build import build_interactions, item_ids
from tfllmrec.data._files import ROW, read_delimited, require_columns, require_file
from tfllmrec.data.dataset import Dataset
from tfllmrec.data.items import Items
from tfllmrec.data.user_profiles import UserProfiles
from tfllmrec.errors import DataError, MissingPackageError

_DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_PARQUET = (".parquet", ".pq")
_KEYS = ("user_id", "item_id", "weight", "timestamp", "items_item_id")


def load_tabular(interactions_path, items_path, columns, text_fields, delimiter=None,
                 name="custom", categorical_fields=(), users_path=None, user_fields=()):
    """Loads a Dataset from an interactions file and an items file.

    The format follows the suffix: .csv (comma), .tsv or .tab (tab),
    .parquet or .pq; `delimiter` overrides it for text files (and is needed
    for other suffixes, e.g. ".dat"). Text files must be UTF-8; a byte-order
    mark and CRLF line endings are fine (re-encode Latin-1 files, such as
    Last.fm's `tags.dat`, with iconv first). A field may hold at most
    131,072 characters (the csv module's limit): a longer one, or a quote
    left open to the end of the file, is a DataError naming the line, never
    a hang. Ids are read as strings; an empty id, or one reading "nan",
    "None", "NULL" or the like (a missing value written out), is an error.
    Timestamps may be Unix seconds, milliseconds (values above 1e11; one unit
    per column), or ISO 8601 dates (naive ones are UTC); empty ones are
    unknown. Weights must be numbers >= 0; without a weight column every
    interaction weighs 1.0.

    Args:
        interactions_path: str or Path. One row per interaction.
        items_path: str or Path. One row per item.
        columns: dict. Maps our names to your column names: "user_id" and
            "item_id" (required), "weight" and "timestamp" (optional), and
            "items_item_id" when the items file names its id column
            differently from the interactions file (default: the same name).
        text_fields: list of str. Columns of the items file joined into
            each item's text, in order.
        delimiter: str or None. Field separator for text files.
        name: str. The dataset's name.
        categorical_fields: list of str. Items-file columns kept as
            categorical features.
        users_path: str, Path or None. One row per user, its id column
            named as `columns["user_id"]`: each user's profile (read by a
            rating model; `Dataset.users`).
        user_fields: list of str. Columns of the users file joined into
            each user's profile text, in order.

    Returns:
        Dataset.

    Raises:
        DataError: a file is missing, empty, header-only, malformed or not
            UTF-8 (naming the line and byte offset); a named
            column is missing (the closest existing name is suggested); a bad
            id, weight or timestamp (naming file, line and column); or
            interactions refer to items missing from the items file.
        MissingPackageError: Parquet without pyarrow installed.

    Example:
    >>> _ = open("orders.csv", "w").write("customer,sku,qty\\nc1,p1,2\\nc1,p2,1\\nc2,p1,3\\n")
    >>> _ = open("products.tsv", "w").write(
    ...     "sku\\tname\\tdescription\\np1\\tGel pen\\tBlue ink.\\np2\\tStapler\\t\\n")
    >>> dataset = load_tabular(
    ...     "orders.csv", "products.tsv",
    ...     columns={"user_id": "customer", "item_id": "sku", "weight": "qty"},
    ...     text_fields=["name", "description"])
    >>> dataset
    Dataset('custom': 3 interactions, 2 users, 2 items)
    >>> dataset.items.texts().tolist(), dataset.interactions.frame["weight"].tolist()
    (['Gel pen. Blue ink.', 'Stapler'], [2.0, 1.0, 3.0])
    """
    columns = _check_columns(columns)
    text_fields = [text_fields] if isinstance(text_fields, str) else list(text_fields)
    categorical_fields = ([categorical_fields] if isinstance(categorical_fields, str)
                          else list(categorical_fields))
    interactions_path, items_path = Path(interactions_path), Path(items_path)

    raw = _read(interactions_path, delimiter)
    mapped = {k: v for k, v in columns.items() if k != "items_item_id"}
    require_columns(raw, interactions_path,
                    {f"columns[{k!r}]": v for k, v in mapped.items()},
                    raw.attrs.get("header_line"))
    interactions = build_interactions(raw, interactions_path, mapped)

    id_column = columns.get("items_item_id", columns["item_id"])
    items = items_from_table(read_table(items_path, delimiter), items_path, id_column, text_fields,
                             categorical_fields, id_name="the items' id column "
                             "(columns['items_item_id'], default columns['item_id'])")
    users = None
    if users_path is not None:
        users = users_from_table(read_table(users_path, delimiter), Path(users_path), columns["user_id"],
                                 [user_fields] if isinstance(user_fields, str) else list(user_fields))
    return Dataset(name, interactions, items, users=users)


def users_from_table(raw, path, id_column, user_fields):
    """`UserProfiles` from a users file's frame, its columns checked."""
    if not user_fields:
        raise DataError(f"{path}: a users file needs the columns that describe a user. "
                        "Fix: name them, e.g. `--set data.user_fields=[age, occupation]`.")
    wanted = {"the users' id column (columns['user_id'])": id_column}
    wanted.update({f"user_fields[{i}]": f for i, f in enumerate(user_fields)})
    require_columns(raw, path, wanted, raw.attrs.get("header_line"))
    frame = pd.DataFrame({"user_id": raw[id_column]}, index=raw.index)
    fields = [f"field {i}" for i in range(len(user_fields))]  # a field may be named "user_id"
    for field, column in zip(fields, user_fields):
        frame[field] = raw[column]
    return UserProfiles(frame, fields, source=str(path))


def read_table(path, delimiter=None):
    """A CSV/TSV/Parquet file as a frame of strings (see `load_tabular` for formats)."""
    return _read(Path(path), delimiter)


def items_from_table(raw, path, id_column, text_fields, categorical_fields=(), id_name="the id column"):
    """`Items` from a frame `read_table` returned, its columns checked.

    Args:
        raw: pandas.DataFrame from `read_table`.
        path: str or Path. The file, for messages.
        id_column: str. The item id column.
        text_fields: list of str. Columns joined into the item text.
        categorical_fields: list of str. Columns kept as categorical features.
        id_name: str. How messages name the id column.
    """
    wanted = {id_name: id_column}
    wanted.update({f"text_fields[{i}]": f for i, f in enumerate(text_fields)})
    wanted.update({f"categorical_fields[{i}]": f for i, f in enumerate(categorical_fields)})
    require_columns(raw, path, wanted, raw.attrs.get("header_line"))
    frame = pd.DataFrame({"item_id": item_ids(raw, path, id_column)}, index=raw.index)
    for field in dict.fromkeys([*text_fields, *categorical_fields]):
        if field == "item_id" and id_column != "item_id":
            raise DataError(
                f"{path}: the column 'item_id' is listed as a field while "
                f"{id_column!r} is the id column. Fix: rename the 'item_id' column."
            )
        frame[field] = raw[field]
    return Items(frame, text_fields, categorical_fields, source=str(path))


def _check_columns(columns):
    if not isinstance(columns, dict):
        raise DataError(
            f"columns must be a dict, not {type(columns).__name__}. Fix: e.g. "
            "columns={'user_id': 'customer', 'item_id': 'sku'}."
        )
    unknown = [k for k in columns if k not in _KEYS]
    missing = [k for k in ("user_id", "item_id") if k not in columns]
    if unknown or missing:
        problem = (f"unknown key(s) {unknown}" if unknown else f"missing key(s) {missing}")
        raise DataError(
            f"columns={columns!r}: {problem}. Fix: map our names {list(_KEYS)} "
            "(user_id and item_id are required) to your column names, e.g. "
            "{'user_id': 'customer', 'item_id': 'sku', 'weight': 'qty'}."
        )
    return {k: str(v) for k, v in columns.items()}


def _read(path, delimiter):
    require_file(path)  # before the suffix: a folder named `x.csv`, or none at all
    suffix = path.suffix.lower()
    if suffix in _PARQUET:
        return _read_parquet(path)
    sep = delimiter or _DELIMITERS.get(suffix)
    if sep is None:
        raise DataError(
            f"{path}: cannot tell the format from the suffix {suffix or '(none)'!r}. "
            "Fix: use .csv, .tsv or .parquet, or pass delimiter=',' (or '\\t', "
            "'|', ...) for a delimited text file."
        )
    if len(sep) != 1:
        raise DataError(f"delimiter={sep!r} must be one character. Fix: e.g. delimiter=','.")
    return read_delimited(path, sep)


def _read_parquet(path):
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes). Fix: point at the complete file.")
    try:
        frame = pd.read_parquet(path)
    except ImportError as error:
        raise MissingPackageError(
            f"Reading {path} needs a Parquet engine ({error}). Fix: `pip install "
            "pyarrow`, or save the file as CSV."
        ) from None
    except Exception as error:  # each engine raises its own error types
        raise DataError(
            f"{path} is not a readable Parquet file ({type(error).__name__}: "
            f"{error}). Fix: re-export it, or save it as CSV."
        ) from None
    if len(frame) == 0:
        raise DataError(f"{path} has columns but no rows. Fix: point at the complete file.")
    frame.columns = [str(c) for c in frame.columns]
    # Parquet has no lines: name rows 1, 2, ... as a spreadsheet would.
    frame.index = pd.RangeIndex(1, len(frame) + 1, name=ROW)
    frame.attrs["header_line"] = None
    return frame
