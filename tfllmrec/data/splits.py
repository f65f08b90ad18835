"""Train/validation/test splits of `Interactions`, each returning a `Split`.

- `random_split`: per user, a seeded shuffle cut with RecBole's rounding rule,
  so part sizes match RecBole's random ordering ("RO") 8:1:1 split.
- `leave_one_out`: per user, the latest interaction is the test, the one
  before it the validation.
- `cold_start_split`: a seeded fraction of items is held out entirely, into
  the test part, to measure recommending items never seen in training.

Every input row lands in exactly one part, and each part keeps the input's
row order and index.
"""

import math

import numpy as np
import pandas as pd

from tfllmrec.data._files import place
from tfllmrec.data.interactions import Interactions
from tfllmrec.data.split import Split
from tfllmrec.errors import DataError, RangeError
from tfllmrec.ranges import SEED, check_shares

TRAIN, VALID, TEST = 0, 1, 2


def _calcu_split_ids(tot, ratios):
    """RecBole 1.2.1's `Dataset._calcu_split_ids`, verbatim: the cut points."""
    cnt = [int(ratios[i] * tot) for i in range(len(ratios))]
    cnt[0] = tot - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * tot < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return list(np.cumsum(cnt)[:-1])


def random_split(interactions, ratios=(0.8, 0.1, 0.1), seed=2020):
    """Splits each user's interactions at random into train, valid and test.

    One `numpy.random.Generator` seeded by `seed` draws a random key per row;
    each user's rows ordered by key are a uniform shuffle of that user's rows,
    which is then cut with RecBole's rule: valid and test get
    `int(ratio * n)` rows, plus one when `0 < ratio * n < 1` while train keeps
    more than one row; train gets the rest. With the default 8:1:1 a user
    with 1 interaction keeps it in train, 2 give train 1 and test 1, 3 give
    1/1/1, 10 give 8/1/1. The same input and seed always give the same split.

    Args:
        interactions: Interactions.
        ratios: tuple of 3 floats. Train, valid and test shares; >= 0, train
            > 0, summing to 1.
        seed: int. Seeds the shuffle.

    Returns:
        Split, with empty `cold_items`.

    Raises:
        DataError: bad ratios.
        RangeError: a seed outside 0 to 2**32 - 1.

    Example:
    >>> frame = pd.DataFrame({"user_id": ["u1"] * 10 + ["u2"] * 2,
    ...                       "item_id": [f"i{k}" for k in range(12)]})
    >>> split = random_split(Interactions(frame), ratios=(0.8, 0.1, 0.1), seed=2020)
    >>> split.sizes  # u1: 8/1/1, u2: 1/0/1
    (9, 1, 2)
    >>> split.test.frame["user_id"].tolist()
    ['u1', 'u2']
    """
    ratios = _check_ratios(ratios)
    seed = SEED.check(seed, "seed")
    parts = _random_parts(_user_codes(interactions), ratios, seed)
    return _split(interactions, parts)


def leave_one_out(interactions):
    """Per user: the latest interaction is test, the one before it valid.

    Each user's rows are sorted by timestamp; ties keep their input order
    (a stable sort), so of two rows with the same time the later row counts
    as later. Users with fewer than 3 interactions keep all of them in train
    (unlike RecBole, which moves the last of 2 to test), so that every user
    in valid or test also has training history.

    Args:
        interactions: Interactions. Every row needs a timestamp.

    Returns:
        Split, with empty `cold_items`.

    Raises:
        DataError: a timestamp is unknown (NA).

    Example:
    >>> frame = pd.DataFrame({"user_id": ["u1", "u1", "u1", "u1", "u2"],
    ...                       "item_id": ["a", "b", "c", "d", "a"],
    ...                       "timestamp": [40, 10, 30, 20, 50]})
    >>> split = leave_one_out(Interactions(frame))
    >>> split.sizes  # u2 has a single interaction: it stays in train
    (3, 1, 1)
    >>> split.valid.frame["item_id"].tolist(), split.test.frame["item_id"].tolist()
    (['c'], ['a'])
    """
    timestamps = interactions.frame["timestamp"]
    unknown = timestamps.isna().to_numpy()
    if unknown.any():
        first = interactions.frame.index[int(np.argmax(unknown))]
        first = first.item() if isinstance(first, np.generic) else first
        raise DataError(
            f"{interactions.source}: leave_one_out orders interactions by time, "
            f"but {int(unknown.sum())} row(s) have no timestamp, the first on "
            f"{place(interactions.frame.index.name, first)}. Fix: provide "
            "timestamps for every row, or use random_split."
        )
    codes = _user_codes(interactions)
    order = np.lexsort((np.arange(len(codes)), timestamps.to_numpy(dtype="int64"), codes))
    counts = np.bincount(codes)
    rank, size = _ranks(codes, order, counts)
    from_end = size - 1 - rank
    parts_sorted = np.where(size < 3, TRAIN,
                            np.where(from_end == 0, TEST,
                                     np.where(from_end == 1, VALID, TRAIN)))
    parts = np.empty(len(codes), dtype=np.int8)
    parts[order] = parts_sorted
    return _split(interactions, parts)


def cold_start_split(interactions, item_fraction=0.1, seed=2020, ratios=(0.8, 0.1, 0.1)):
    """Holds out a random fraction of items: all their interactions go to test.

    The number of cold items is `round(item_fraction * n)` rounded half up,
    where n is the number of distinct items in `interactions` (items without
    interactions cannot be held out). They are drawn without replacement by a
    Generator seeded by `seed`. The remaining interactions are split with
    `random_split(..., ratios, seed)`, and their test part is added to the
    cold items' interactions.

    Args:
        interactions: Interactions.
        item_fraction: float. Share of items to hold out, 0 < f < 1.
        seed: int. Seeds the choice of items and the random split.
        ratios: tuple of 3 floats. As for `random_split`.

    Returns:
        Split whose `cold_items` holds the held-out ids, sorted.

    Raises:
        DataError: bad fraction or ratios, or a fraction that rounds to no
            item or to every item.

    Example:
    >>> frame = pd.DataFrame({"user_id": [f"u{k % 5}" for k in range(40)],
    ...                       "item_id": [f"i{k % 20}" for k in range(40)]})
    >>> split = cold_start_split(Interactions(frame), item_fraction=0.1)
    >>> split  # round(0.1 * 20) = 2 of the 20 items are cold
    Split(train=26, valid=5, test=9, cold_items=2)
    >>> split.cold_items.tolist()
    ['i0', 'i17']
    >>> bool(split.train.frame["item_id"].isin(split.cold_items).any())
    False
    """
    ratios = _check_ratios(ratios)
    seed = SEED.check(seed, "seed")
    if not isinstance(item_fraction, (int, float)) or not 0 < item_fraction < 1:
        raise DataError(
            f"cold_start_split: item_fraction={item_fraction!r} must be a number "
            "between 0 and 1 (exclusive). Fix: e.g. item_fraction=0.1."
        )
    items = interactions.items
    n_cold = math.floor(item_fraction * len(items) + 0.5)
    if not 0 < n_cold < len(items):
        raise DataError(
            f"{interactions.source}: item_fraction={item_fraction} of "
            f"{len(items)} items rounds to {n_cold} cold items; there must be at "
            "least one cold item and one warm item. Fix: change item_fraction."
        )
    cold = np.sort(np.random.default_rng(seed).choice(items, size=n_cold, replace=False))
    is_cold = interactions.frame["item_id"].isin(cold).to_numpy()
    parts = np.full(len(interactions), TEST, dtype=np.int8)
    warm = interactions.filter(~is_cold)
    parts[~is_cold] = _random_parts(_user_codes(warm), ratios, seed)
    return _split(interactions, parts, cold_items=cold)


def rows_needed(ratios, limit=1000):
    """The fewest interactions a user needs under `random_split(ratios)` for a
    row in valid, and for one in test: (n_valid, n_test), None past `limit`.

    Example:
    >>> rows_needed((0.8, 0.1, 0.1))  # 2 give train 1 and test 1; 3 give 1/1/1
    (3, 2)
    """
    ratios = _check_ratios(ratios)
    needed = [None, None]
    for n in range(1, limit + 1):
        train, valid_end = _calcu_split_ids(n, ratios)
        for part, rows in enumerate((valid_end - train, n - valid_end)):
            if rows and needed[part] is None:
                needed[part] = n
        if None not in needed:
            break
    return tuple(needed)


def _check_ratios(ratios):
    try:
        return check_shares(ratios)
    except RangeError as error:  # bad data-splitting arguments: a DataError, as they always were
        raise DataError(str(error)) from None


def _user_codes(interactions):
    codes, _ = pd.factorize(interactions.frame["user_id"])
    return codes.astype(np.int64)


def _ranks(codes, order, counts):
    """Each row's rank within its user, in `order`, and its user's row count."""
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    sorted_codes = codes[order]
    return np.arange(len(order)) - starts[sorted_codes], counts[sorted_codes]


def _random_parts(codes, ratios, seed):
    if len(codes) == 0:
        return np.empty(0, dtype=np.int8)
    keys = np.random.default_rng(seed).random(len(codes))
    order = np.lexsort((keys, codes))
    counts = np.bincount(codes, minlength=codes.max() + 1)
    sizes, inverse = np.unique(counts, return_inverse=True)
    # The rule depends only on a user's row count: compute it once per count.
    cuts = np.array([_calcu_split_ids(int(t), ratios) for t in sizes], dtype=np.int64)
    user_cuts = cuts[inverse]
    rank, _ = _ranks(codes, order, counts)
    bounds = user_cuts[codes[order]]
    parts = np.empty(len(codes), dtype=np.int8)
    parts[order] = (rank >= bounds[:, 0]).astype(np.int8) + (rank >= bounds[:, 1])
    return parts


def _split(interactions, parts, cold_items=None):
    frame, source = interactions.frame, interactions.source
    train, valid, test = (
        Interactions._trusted(frame[parts == k], source) for k in (TRAIN, VALID, TEST)
    )
    if cold_items is None:
        return Split(train, valid, test)
    return Split(train, valid, test, cold_items=cold_items)
