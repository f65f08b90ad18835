"""The `Items` table: one row per item, with the text the encoders read."""

import numpy as np
import pandas as pd

from tfllmrec.data._files import closest
from tfllmrec.data._values import check_unique, parse_ids
from tfllmrec.errors import DataError

_SENTENCE_ENDS = (".", "!", "?")


class Items:
    """A validated item catalogue with text fields.

    The frame holds `item_id` (str, unique) followed by the `text_fields` and
    `categorical_fields` columns as strings (missing values become ""); other
    input columns are dropped. As for `Interactions`, the index is kept so that
    errors can name the line of the source file.

    Args:
        frame: pandas.DataFrame. Needs `item_id` and every listed field.
        text_fields: list of str. Columns joined into each item's text, in
            this order, e.g. ["title", "genres"].
        categorical_fields: list of str. Columns kept as categorical
            features (not part of the text).
        source: str. Where the rows came from (a file path), for messages.

    Raises:
        DataError: no rows, no text field, a listed column is missing, or an
            item id is missing, blank or appears twice.

    Example:
    >>> frame = pd.DataFrame({"item_id": ["1"], "title": ["Toy Story (1995)"],
    ...                       "genres": ["Animation Children's Comedy"]})
    >>> items = Items(frame, ["title", "genres"])
    >>> items.texts().tolist()
    ["Toy Story (1995). Animation Children's Comedy"]
    """

    def __init__(self, frame, text_fields, categorical_fields=(), source="<memory>"):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(
                f"Items takes a pandas DataFrame, not {type(frame).__name__}. "
                "Fix: wrap your data with pd.DataFrame(...)."
            )
        source = str(source)
        text_fields = [text_fields] if isinstance(text_fields, str) else list(text_fields)
        categorical_fields = (
            [categorical_fields] if isinstance(categorical_fields, str)
            else list(categorical_fields)
        )
        if not text_fields:
            raise DataError(
                f"{source}: no text fields given. Fix: name the columns that "
                "describe an item, e.g. text_fields=['title', 'description']."
            )
        present = [str(c) for c in frame.columns]
        for name in ["item_id", *text_fields, *categorical_fields]:
            if name not in frame.columns:
                hint = closest(name, present)
                guess = f" Did you mean {hint!r}?" if hint is not None else ""
                raise DataError(
                    f"{source}: the items table has no column {name!r}. It has: "
                    f"{present}.{guess} Fix: list only existing columns, or "
                    "rename the column."
                )
        if len(frame) == 0:
            raise DataError(f"{source}: there are no items (0 rows). Fix: check the file.")
        ids = parse_ids(frame["item_id"], source, "item_id")
        check_unique(ids, source, "item_id")
        out = pd.DataFrame({"item_id": ids}, index=frame.index)
        for name in dict.fromkeys([*text_fields, *categorical_fields]):
            out[name] = text_column(frame[name])
        self._frame = out
        self._source = source
        self._text_fields = text_fields
        self._categorical_fields = categorical_fields
        self._ids = ids.to_numpy(dtype=str)
        self._index = pd.Index(self._ids)
        self._texts = None

    @property
    def frame(self):
        """pandas.DataFrame: the table. Treat it as read-only."""
        return self._frame

    @property
    def source(self):
        """str: where the rows came from."""
        return self._source

    @property
    def text_fields(self):
        """list of str: the columns joined into each item's text."""
        return list(self._text_fields)

    @property
    def categorical_fields(self):
        """list of str: the categorical feature columns."""
        return list(self._categorical_fields)

    @property
    def ids(self):
        """np.ndarray of str: the item ids in table order."""
        return self._ids.copy()

    def __len__(self):
        return len(self._frame)

    def __repr__(self):
        return (
            f"Items({len(self)} items, text_fields={self._text_fields}, "
            f"source={self._source!r})"
        )

    def texts(self, item_ids=None):
        """Returns one text per item: its non-empty text fields joined by ". ".

        A field that already ends a sentence (".", "!" or "?") is followed by a
        plain space, so "Great pen." and "Office" give "Great pen. Office".

        Args:
            item_ids: array-like of str, or None for every item in table order.

        Returns:
            np.ndarray of str.

        Raises:
            DataError: an id is not in the table.

        Example:
        >>> frame = pd.DataFrame({"item_id": ["1", "2"], "title": ["Toy Story (1995)", "Great pen."],
        ...                       "genres": ["Animation Children's Comedy", "Office"]})
        >>> items = Items(frame, ["title", "genres"])
        >>> items.texts(["2", "1"]).tolist()
        ['Great pen. Office', "Toy Story (1995). Animation Children's Comedy"]
        """
        if self._texts is None:
            columns = [self._frame[name].to_numpy(dtype=str) for name in self._text_fields]
            self._texts = np.array([join_fields(parts) for parts in zip(*columns)], dtype=str)
        if item_ids is None:
            return self._texts.copy()
        return self._texts[self.index_of(item_ids)]

    def index_of(self, ids):
        """Maps item ids to their row positions in this table.

        Args:
            ids: array-like of str (a single str counts as one id).

        Returns:
            np.ndarray of int64, one position per id.

        Raises:
            DataError: some ids are unknown; lists up to 5 of them.

        Example:
        >>> frame = pd.DataFrame({"item_id": ["1", "2", "50"], "title": ["Heat", "Up", "Big"]})
        >>> items = Items(frame, ["title"])
        >>> items.index_of(["50", "1"]).tolist()
        [2, 0]
        >>> items.index_of(["7"])
        Traceback (most recent call last):
        ...
        tfllmrec.errors.DataError: 1 item id(s) are not in the items table (<memory>): '7'. Fix: ...
        """
        ids = [ids] if isinstance(ids, str) else list(ids)
        wanted = [str(i) for i in ids]
        positions = self._index.get_indexer(wanted)
        unknown = positions < 0
        if unknown.any():
            missing = list(dict.fromkeys(np.asarray(wanted, dtype=object)[unknown]))
            shown = ", ".join(repr(m) for m in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise DataError(
                f"{len(missing)} item id(s) are not in the items table "
                f"({self._source}): {shown}{more}. Fix: add them to the items "
                "file, or drop the rows that use them."
            )
        return positions.astype("int64")


def text_column(column):
    """Strings; missing values become "" and whole floats lose their ".0"."""
    if pd.api.types.is_float_dtype(column.dtype):
        known = column.dropna()
        if (known == np.floor(known)).all():
            # A year read from a column with gaps is a float: 1995.0 -> "1995".
            column = column.astype("Int64")
    return column.astype("object").where(column.notna(), "").astype(str)


def join_fields(parts):
    """The non-empty `parts` joined by ". " (a plain space after one that ends a sentence)."""
    text = ""
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if not text:
            text = part
        elif text.endswith(_SENTENCE_ENDS):
            text = f"{text} {part}"
        else:
            text = f"{text}. {part}"
    return text
