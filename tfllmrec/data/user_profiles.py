"""`UserProfiles`: what a dataset says about its users (age, occupation, ...), as text."""

import numpy as np
import pandas as pd

from tfllmrec.data._files import closest
from tfllmrec.data._values import check_unique, parse_ids
from tfllmrec.data.items import join_fields, text_column
from tfllmrec.errors import DataError


class UserProfiles:
    """One profile text per user, read by the same encoder as the items' text.

    A rating model reads a user's profile beside their id, so a user it never
    saw (no ratings, no id vector) is still scored from who they are. Users
    missing from the table have the empty profile.

    Args:
        frame: pandas.DataFrame. `user_id` and every field of `text_fields`.
        text_fields: list of str. Columns joined into each profile, in order.
        source: str. Where the rows came from (a file path), for messages.

    Raises:
        DataError: no rows or no text field, a listed column is missing, or a
            user id is missing, blank or appears twice (naming the line).

    Example:
    >>> frame = pd.DataFrame({"user_id": ["1", "2"], "profile": ["A 24-year-old man.", "A 53-year-old woman."]})
    >>> profiles = UserProfiles(frame, ["profile"])
    >>> profiles.texts(["2", "9"]).tolist()
    ['A 53-year-old woman.', '']
    """

    def __init__(self, frame, text_fields, source="<memory>"):
        source = str(source)
        text_fields = [text_fields] if isinstance(text_fields, str) else list(text_fields)
        if not text_fields:
            raise DataError(f"{source}: no profile fields given. Fix: name the columns that describe a "
                            "user, e.g. user_fields=['age', 'occupation'].")
        present = [str(c) for c in frame.columns]
        for name in ["user_id", *text_fields]:
            if name not in frame.columns:
                hint = closest(name, present)
                guess = f" Did you mean {hint!r}?" if hint is not None else ""
                raise DataError(f"{source}: the users table has no column {name!r}. It has: {present}.{guess} "
                                "Fix: list only existing columns, or rename the column.")
        if len(frame) == 0:
            raise DataError(f"{source}: there are no users (0 rows). Fix: check the file, or leave it out.")
        ids = parse_ids(frame["user_id"], source, "user_id")
        check_unique(ids, source, "user_id")
        columns = [text_column(frame[name]).to_numpy(dtype=str) for name in text_fields]
        self._texts = pd.Series([join_fields(parts) for parts in zip(*columns)], index=ids.to_numpy(dtype=str))
        self.source = source
        self.text_fields = text_fields

    @property
    def ids(self):
        """np.ndarray of str: the user ids in table order."""
        return self._texts.index.to_numpy(dtype=str)

    def __len__(self):
        return len(self._texts)

    def __repr__(self):
        return f"UserProfiles({len(self)} users, text_fields={self.text_fields}, source={self.source!r})"

    def texts(self, user_ids):
        """One profile text per id of `user_ids`; "" for a user the table does not have."""
        wanted = pd.Index([str(u) for u in np.atleast_1d(user_ids)])
        return self._texts.reindex(wanted).fillna("").to_numpy(dtype=str)
