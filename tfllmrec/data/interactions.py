"""The `Interactions` table: who interacted with which item, how much, when."""

import numpy as np
import pandas as pd

from tfllmrec.data._values import parse_ids, parse_timestamps, parse_weights
from tfllmrec.errors import DataError

COLUMNS = ("user_id", "item_id", "weight", "timestamp")
_REQUIRED = ("user_id", "item_id")


class Interactions:
    """A validated table of user-item interactions.

    The frame has exactly the columns `user_id` (str), `item_id` (str),
    `weight` (float64; 1.0 when the input has no weight column; for MovieLens
    the rating) and `timestamp` (nullable Int64 Unix seconds; NA when
    unknown). Other input columns are dropped. The index is kept: the loaders
    of this package set it to each row's line number in the source file
    (index name "line"; "row" for Parquet), so errors found later, even after
    filtering or splitting, still point at the line to fix.

    Args:
        frame: pandas.DataFrame. Needs `user_id` and `item_id`; `weight` and
            `timestamp` are optional. Ids may be strings or whole numbers.
            Timestamps may be Unix seconds, milliseconds (values above 1e11),
            datetimes or ISO 8601 strings.
        source: str. Where the rows came from (a file path), for messages.
        allow_empty: bool. Accept a frame without rows (e.g. an empty
            validation part of a split); otherwise that is a DataError.

    Raises:
        DataError: a required column is missing, there are no rows, an id is
            missing or blank, or a weight is not a finite number >= 0.

    Example:
    >>> frame = pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["i9", "i9"]})
    >>> interactions = Interactions(frame)
    >>> len(interactions), interactions.users.tolist()
    (2, ['u1', 'u2'])
    """

    def __init__(self, frame, source="<memory>", allow_empty=False):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(
                f"Interactions takes a pandas DataFrame, not {type(frame).__name__}. "
                "Fix: wrap your data with pd.DataFrame(...)."
            )
        source = str(source)
        missing = [c for c in _REQUIRED if c not in frame.columns]
        if missing:
            raise DataError(
                f"{source}: interactions need the columns {list(_REQUIRED)}; "
                f"{missing} missing. The frame has: {[str(c) for c in frame.columns]}. "
                "Fix: rename your columns, e.g. frame.rename(columns={'customer': "
                "'user_id', 'sku': 'item_id'})."
            )
        if len(frame) == 0 and not allow_empty:
            raise DataError(
                f"{source}: there are no interactions (0 rows). Fix: check the "
                "file or the filter that produced this frame."
            )
        out = pd.DataFrame(index=frame.index)
        out["user_id"] = parse_ids(frame["user_id"], source, "user_id")
        out["item_id"] = parse_ids(frame["item_id"], source, "item_id")
        if "weight" in frame.columns:
            out["weight"] = parse_weights(frame["weight"], source, "weight")
        else:
            out["weight"] = np.ones(len(frame), dtype="float64")
        if "timestamp" in frame.columns:
            out["timestamp"] = parse_timestamps(frame["timestamp"], source, "timestamp")
        else:
            out["timestamp"] = pd.array([pd.NA] * len(frame), dtype="Int64")
        self._frame = out
        self._source = source
        self._users = self._items = None

    @classmethod
    def _trusted(cls, frame, source):
        """Wraps a frame already in canonical form, skipping validation."""
        self = cls.__new__(cls)
        self._frame, self._source = frame, source
        self._users = self._items = None
        return self

    @property
    def frame(self):
        """pandas.DataFrame: the table. Treat it as read-only."""
        return self._frame

    @property
    def source(self):
        """str: where the rows came from."""
        return self._source

    @property
    def users(self):
        """np.ndarray of str: the distinct user ids, sorted."""
        if self._users is None:
            self._users = np.unique(self._frame["user_id"].to_numpy(dtype=str))
        return self._users

    @property
    def items(self):
        """np.ndarray of str: the distinct item ids, sorted."""
        if self._items is None:
            self._items = np.unique(self._frame["item_id"].to_numpy(dtype=str))
        return self._items

    @property
    def has_timestamps(self):
        """bool: every row has a known timestamp."""
        return bool(len(self._frame)) and not self._frame["timestamp"].isna().any()

    def __len__(self):
        return len(self._frame)

    def __repr__(self):
        return (
            f"Interactions({len(self)} rows, {len(self.users)} users, "
            f"{len(self.items)} items, source={self._source!r})"
        )

    def filter(self, mask, allow_empty=False):
        """Returns a new Interactions with the rows where `mask` is True.

        Args:
            mask: array-like of bool, one per row (a boolean Series must share
                this table's index).
            allow_empty: bool. Accept a result without rows.

        Raises:
            DataError: the mask has the wrong length, or selects no rows and
                `allow_empty` is False.

        Example:
        >>> frame = pd.DataFrame({"user_id": ["u1", "u1", "u2"], "item_id": ["i1", "i2", "i1"],
        ...                       "weight": [5, 2, 4]})
        >>> interactions = Interactions(frame)
        >>> liked = interactions.filter(interactions.frame["weight"] >= 4)
        >>> liked
        Interactions(2 rows, 2 users, 1 items, source='<memory>')
        >>> liked.frame.index.tolist()  # rows keep their index
        [0, 2]
        """
        if isinstance(mask, pd.Series) and not mask.index.equals(self._frame.index):
            raise DataError(
                f"{self._source}: the filter mask is a Series with another index "
                "than this table's. Fix: build it from interactions.frame, or "
                "pass mask.to_numpy() when it is already in row order."
            )
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(self),):
            raise DataError(
                f"{self._source}: filter got a mask of shape {mask.shape}, but "
                f"there are {len(self)} rows. Fix: pass one bool per row."
            )
        if not mask.any() and not allow_empty:
            raise DataError(
                f"{self._source}: the filter keeps none of the {len(self)} rows. "
                "Fix: loosen the condition, or pass allow_empty=True."
            )
        return Interactions._trusted(self._frame[mask], self._source)
