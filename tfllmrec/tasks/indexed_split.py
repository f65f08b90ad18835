"""`IndexedSplit`: a `Split` as integer indices, ready for models and metrics."""

import numpy as np

from tfllmrec.errors import DataError


class IndexedSplit:
    """Maps a split's string ids to contiguous indices and per-user item lists.

    Users are indexed in sorted order of their ids, items in the order of
    the `Items` table, so the same dataset always gives the same indices.

    Args:
        split: tfllmrec.data.Split.
        items: tfllmrec.data.Items. The catalogue (every item, with text).
        users: array of str or None. The user vocabulary; None: every user
            in the split.

    Example:
    >>> import pandas as pd
    >>> from tfllmrec.data import Interactions, Items, Split
    >>> part = lambda rows: Interactions(pd.DataFrame(rows, columns=["user_id", "item_id"]))
    >>> split = Split(part([("b", "x"), ("a", "y")]), part([("a", "x")]), part([("b", "z")]))
    >>> index = IndexedSplit(split, Items(pd.DataFrame({"item_id": ["x", "y", "z"], "title": ["X", "Y", "Z"]}), ["title"]))
    >>> index.user_ids.tolist(), index.train_users.tolist(), index.train_items.tolist()
    (['a', 'b'], [1, 0], [0, 1])
    >>> index.per_user("train", "valid")
    [[1, 0], [0]]
    """

    def __init__(self, split, items, users=None):
        self.split = split
        self.items = items
        if users is None:
            parts = [p.frame["user_id"] for p in (split.train, split.valid, split.test)]
            users = np.unique(np.concatenate([np.asarray(p, dtype=str) for p in parts]))
        self.user_ids = np.asarray(users, dtype=str)
        self.item_ids = np.asarray(items.ids, dtype=str)
        self.num_users = len(self.user_ids)
        self.num_items = len(self.item_ids)
        self.train_users, self.train_items, self.train_times, self.train_weights = self._encode(split.train)
        self.valid_users, self.valid_items, self.valid_times, self.valid_weights = self._encode(split.valid)
        self.test_users, self.test_items, self.test_times, self.test_weights = self._encode(split.test)
        # Rows without a timestamp sort first (as time 0); time periods refuse them.
        self.rows_without_time = sum(_untimed(p.frame) for p in (split.train, split.valid, split.test))
        self.cold_items = items.index_of(split.cold_items) if len(split.cold_items) else np.array([], np.int64)

    def _encode(self, part):
        frame = part.frame
        if len(frame) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
        users = np.searchsorted(self.user_ids, np.asarray(frame["user_id"], dtype=str))
        items = self.items.index_of(np.asarray(frame["item_id"], dtype=str))
        times = _timestamps(frame)
        order = np.argsort(times, kind="stable")
        weights = np.asarray(frame["weight"], np.float32)  # the rating, for ranking models
        return (users[order].astype(np.int64), np.asarray(items)[order].astype(np.int64), times[order],
                weights[order])

    def item_counts(self):
        """Training interactions per item, `[num_items]`."""
        return np.bincount(self.train_items, minlength=self.num_items)

    def num_periods(self, period_days):
        """Periods of `period_days` days that cover the training timestamps."""
        return int(self.periods(period_days, "train").max(initial=0)) + 1

    def periods(self, period_days, part):
        """Period of each interaction of `part`, clipped to the training range.

        Periods are counted back from the last training timestamp, so the
        latest one, which serving uses, is a whole `period_days` long (the
        first may be shorter); a later request belongs to the latest one.
        """
        if period_days <= 0:
            raise ValueError("period_days must be positive.")
        off = ("Fix: set model.period_days, baseline_model.period_days and sequence.period_days to 0 "
               "(no time periods)")
        if self.train_times.size == 0 or self.train_times.max() == self.train_times.min() == 0:
            raise DataError("Time periods need timestamps, and the training interactions have none. "
                            f"{off}, or add a timestamp column.")
        if self.rows_without_time:
            raise DataError(f"Time periods need a timestamp on every interaction; {self.rows_without_time} "
                            f"have none. {off}, or fill the timestamps in.")
        seconds = int(period_days * 86_400)
        first, last = self.period_range()
        span = (last - first) // seconds
        times = np.clip(getattr(self, f"{part}_times"), first, last)
        return span - (last - times) // seconds

    def period_range(self):
        """(first, last) training timestamp: what time periods are counted over."""
        return int(self.train_times.min()), int(self.train_times.max())

    def latest_periods(self, period_days, *parts):
        """Per user, the period of their latest interaction in `parts` (-1: none).

        With the evaluated part this is the time of the request a model
        answers (a leave-one-out test purchase happens then), as time-aware
        models such as KDA take the target's timestamp."""
        latest = np.full(self.num_users, -1, np.int64)
        for part in parts:
            np.maximum.at(latest, getattr(self, f"{part}_users"), self.periods(period_days, part))
        return latest

    def per_user(self, *parts):
        """Item lists per user (oldest first) of the named parts ("train", ...)."""
        return self._per_user(parts, lambda part: getattr(self, f"{part}_items"))

    def per_user_periods(self, period_days, *parts):
        """The periods of `per_user(*parts)`'s items, in the same lists and order."""
        return self._per_user(parts, lambda part: self.periods(period_days, part))

    def _per_user(self, parts, values_of):
        lists = [[] for _ in range(self.num_users)]
        for part in parts:
            for user, value in zip(getattr(self, f"{part}_users"), values_of(part)):
                lists[user].append(int(value))
        return lists

    def targets(self, part, seen_parts):
        """(users, positives, exclude) for evaluating `part` with full ranking.

        A positive the user already has in `seen_parts` (a repeat
        interaction) is dropped: seen items are excluded from the ranking.
        """
        truth = self.per_user(part)
        seen = self.per_user(*seen_parts)
        users, positives, exclude = [], [], []
        for user, items in enumerate(truth):
            seen_items = np.unique(np.asarray(seen[user], np.int64))
            fresh = np.setdiff1d(np.asarray(items, np.int64), seen_items)
            if fresh.size:
                users.append(user)
                positives.append(fresh)
                exclude.append(seen_items)
        return np.asarray(users, np.int64), positives, exclude


def sampled_targets(index, negatives):
    """(users, positives, negatives) index arrays of a shipped sampled protocol.

    Args:
        index: IndexedSplit.
        negatives: pandas.DataFrame with user_id, item_id (the positive) and
            negatives (a list of item ids per row), as `Dataset.negatives`
            holds for one part.

    Returns:
        int64 arrays `[n]`, `[n]` and `[n, m]`; rows with a user outside the
        index's vocabulary raise a DataError.
    """
    users_str = np.asarray(negatives["user_id"], dtype=str)
    users = np.searchsorted(index.user_ids, users_str)
    known = (users < index.num_users) & (index.user_ids[np.minimum(users, index.num_users - 1)] == users_str)
    if not known.all():
        raise DataError(
            f"{int((~known).sum())} sampled-negative row(s) name users without any "
            f"interaction, e.g. {users_str[~known][:3].tolist()}. Fix: drop those rows."
        )
    lengths = {len(row) for row in negatives["negatives"]}
    if len(lengths) != 1:
        raise DataError(f"sampled negatives have different lengths per row ({sorted(lengths)[:5]}); "
                        "the protocol needs the same number for every user.")
    positives = index.items.index_of(np.asarray(negatives["item_id"], dtype=str))
    flat = [str(i) for row in negatives["negatives"] for i in row]
    negs = index.items.index_of(flat).reshape(len(negatives), -1)
    return users.astype(np.int64), positives, negs


def _untimed(frame):
    if "timestamp" not in frame or len(frame) == 0:
        return 0
    return int(frame["timestamp"].isna().sum())


def _timestamps(frame):
    if "timestamp" not in frame:
        return np.zeros(len(frame), np.int64)
    return frame["timestamp"].fillna(0).to_numpy(dtype=np.int64)
