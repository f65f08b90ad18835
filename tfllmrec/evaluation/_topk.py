"""Deterministic row-wise top-K: by score descending, then item index ascending."""

import numpy as np

# Rows are ranked in chunks of about this many scores, so argpartition's int64
# index array stays near 32 MiB even for 256 users x 100k items.
_CHUNK_ELEMENTS = 1 << 22


def top_k_indices(scores, k):
    """Returns the column indices of each row's k highest scores, best first.

    Ties are broken by the lower column index, also where a tie straddles the
    K-th place, so the result does not depend on argpartition's internal order.

    Args:
        scores: np.ndarray [rows, columns] of float, without NaN.
        k: int. 1 <= k <= columns.

    Returns:
        np.ndarray [rows, k] of int64.

    Example:
        >>> top_k_indices(np.array([[0.1, 0.5, 0.5, 0.9]]), 2)
        array([[3, 1]])
    """
    rows, columns = scores.shape
    if rows == 0:
        return np.empty((0, k), dtype=np.int64)
    step = max(1, _CHUNK_ELEMENTS // max(columns, 1))
    parts = [_top_k_chunk(scores[i : i + step], k) for i in range(0, rows, step)]
    return np.concatenate(parts, axis=0)


def _top_k_chunk(scores, k):
    columns = scores.shape[1]
    if k < columns:
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(columns), scores.shape).copy()
    top_scores = np.take_along_axis(scores, top, axis=1)
    threshold = top_scores.min(axis=1)
    # A tie straddles the K-th place when more items share the threshold score
    # than argpartition kept; only those rows need the exact (slower) pass.
    at_threshold = scores == threshold[:, None]
    straddling = at_threshold.sum(axis=1) > (top_scores == threshold[:, None]).sum(axis=1)
    if straddling.any():
        rows = np.flatnonzero(straddling)
        top[rows] = _lowest_index_top_k(scores[rows], threshold[rows], at_threshold[rows], k)
        top_scores[rows] = np.take_along_axis(scores[rows], top[rows], axis=1)
    # lexsort's last key is the primary one: score descending, then index.
    order = np.lexsort((top, -top_scores), axis=1)
    return np.take_along_axis(top, order, axis=1)


def _lowest_index_top_k(scores, threshold, at_threshold, k):
    """Top-k sets (unordered) keeping the lowest-index items among tied ones."""
    above = scores > threshold[:, None]
    room = k - above.sum(axis=1)
    keep = above | (at_threshold & (np.cumsum(at_threshold, axis=1) <= room[:, None]))
    # Exactly k True per row, so the column indices reshape to [rows, k].
    return np.nonzero(keep)[1].reshape(scores.shape[0], k)
