"""Input checks shared by the evaluators. Each error says how to fix the input."""

import numbers

import numpy as np

from tfllmrec.ranges import K


def as_index_array(values, name):
    """Returns `values` as a 1-D int64 array of indices.

    Args:
        values: array-like of int, or None (read as empty).
        name: str. How the value is named in error messages.

    Raises:
        ValueError: the values are not integers or not 1-D.
    """
    if values is None:
        return np.empty(0, dtype=np.int64)
    array = np.atleast_1d(np.asarray(values))
    # `np.asarray([])` is float64; an empty list is a valid empty index list.
    if array.size == 0:
        return np.empty(0, dtype=np.int64)
    if array.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must hold integer indices, got dtype {array.dtype}. Map ids "
            "to integer indices first, or cast with `.astype(np.int64)`."
        )
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}. Flatten it.")
    return array.astype(np.int64, copy=False)


def check_range(items, num_items, name):
    """Raises ValueError when an item index is outside [0, num_items)."""
    if items.size and (items.min() < 0 or items.max() >= num_items):
        bad = items[(items < 0) | (items >= num_items)][0]
        raise ValueError(
            f"{name} holds item index {bad}, outside [0, {num_items}) where "
            f"{num_items} is the number of score columns. Check that the ids were "
            "mapped with the same item index the model scores."
        )


def check_num_items(num_items):
    """`num_items` as an int; raises ValueError unless it is an int >= 1."""
    if isinstance(num_items, bool) or not isinstance(num_items, numbers.Integral) or num_items < 1:
        raise ValueError(f"num_items={num_items!r}; pass the number of items, an int >= 1.")
    return int(num_items)


def check_ks(ks):
    """Returns `ks` as a tuple of distinct positive ints, in the given order.

    Raises:
        ValueError: a cut-off is not a positive int, or `ks` is empty.
    """
    if isinstance(ks, numbers.Integral):
        ks = (ks,)
    ks = tuple(ks)
    if not ks:
        raise ValueError("ks is empty. Pass cut-offs such as ks=(5, 10).")
    for k in ks:
        if not K.contains(k):
            raise ValueError(f"ks holds {k!r}; each cut-off must be {K.describe()}.")
    if len(set(ks)) != len(ks):
        raise ValueError(f"ks={ks} repeats a cut-off; list each K once.")
    return tuple(int(k) for k in ks)


def check_batch_size(batch_size):
    """Raises ValueError unless `batch_size` is an int >= 1."""
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, numbers.Integral)
        or batch_size < 1
    ):
        raise ValueError(f"batch_size={batch_size!r}; pass an int >= 1.")
    return int(batch_size)


def as_scores(scores, shape, fn_name):
    """Returns a score function's output as a float array of `shape`.

    Args:
        scores: array-like returned by the score function.
        shape: tuple. The expected shape; a None entry matches any size.
        fn_name: str. The score function's name in error messages.

    Raises:
        ValueError: wrong shape, non-numeric, or NaN scores.
    """
    array = np.asarray(scores)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{fn_name} returned dtype {array.dtype}; return float scores.")
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    if array.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(array.shape, shape)
    ):
        expected = tuple("any" if s is None else s for s in shape)
        raise ValueError(
            f"{fn_name} returned shape {array.shape}, expected {expected}. It must "
            "return one row per user and one column per item (or candidate)."
        )
    if np.isnan(array).any():
        row = int(np.argwhere(np.isnan(array))[0][0])
        raise ValueError(
            f"{fn_name} returned NaN scores (first in row {row}); NaN cannot be "
            "ranked. Fix the model (e.g. a diverged loss) or replace NaN with -inf."
        )
    return array
