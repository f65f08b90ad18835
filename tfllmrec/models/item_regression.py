"""EASE for a reranker: item-to-item regression weights, kept sparse (Steck, WWW 2019)."""

import numpy as np

from tfllmrec.models.reranker_lookups import distinct_cells

# The most popular items EASE regresses over: its cost is a dense inverse of
# this size (10,000 items: 0.8 GB in float64, about a minute on 2 cores).
MAX_ITEMS = 10_000
# Weights kept per history item, the largest in size. On Last.fm-2k, 200 of
# 5,916 score test users to within 0.0004 NDCG@10 of the dense weights; 100
# lose 0.003.
WEIGHTS_PER_ITEM = 200
# Fills the unused end of a fixed-size key table: above every real key.
PADDING_KEY = np.iinfo(np.int64).max


def ease_weights(histories, num_items, l2, max_items=MAX_ITEMS, per_item=WEIGHTS_PER_ITEM):
    """EASE's item-to-item weights B over the items of `histories`, sparse.

    EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data",
    WWW 2019) scores item i for a user holding items H as the sum over j in
    H of B[j, i], with B = I - P / diag(P), P = (X^T X + l2 I)^-1 over the
    user-item matrix X and B's diagonal zero. Only items that at least two
    users hold take part (the rest have no pair to learn from), at most the
    `max_items` most popular of them, and each item j keeps its `per_item`
    largest weights B[j, i] in size.

    Args:
        histories: list of item-index lists, one per user (each distinct
            item counts once).
        num_items: int. Catalogue size.
        l2: float > 0. EASE's lambda: larger shrinks the weights.
        max_items, per_item: int. The limits above.

    Returns:
        (sorted int64 keys `j * num_items + i`, float32 weights), as the
        reranker's pair lookups read them; no weight at all gives one
        placeholder key with weight 0.

    Example:
    >>> keys, weights = ease_weights([[0, 1], [0, 1], [1, 2], [1, 2], [0, 2]], num_items=3, l2=1.0)
    >>> keys.tolist(), np.round(weights.astype(float), 3).tolist()
    ([1, 2, 3, 5, 6, 7], [0.4, 0.062, 0.375, 0.375, 0.062, 0.4])
    """
    if l2 <= 0:
        raise ValueError(f"l2={l2}: EASE needs a positive L2 weight (its lambda), e.g. 100.")
    owners, items = distinct_cells(histories, num_items)
    kept = _most_held(items, num_items, max_items)
    if kept.size < 2:
        return np.zeros(1, np.int64), np.zeros(1, np.float32)
    column = np.full(num_items, -1, np.int64)
    column[kept] = np.arange(kept.size)
    held = column[items] >= 0
    gram = _gram(owners[held], column[items[held]], kept.size)
    gram[np.diag_indices_from(gram)] += l2
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)[None, :]
    np.fill_diagonal(weights, 0.0)
    width = min(per_item, kept.size - 1)
    largest = np.argpartition(-np.abs(weights), width - 1, axis=1)[:, :width]
    sources = np.repeat(kept, width)
    targets = kept[largest.reshape(-1)]
    values = np.take_along_axis(weights, largest, axis=1).reshape(-1)
    keys = sources * num_items + targets
    order = np.argsort(keys)
    return keys[order], values[order].astype(np.float32)


def ease_items(histories, num_items, max_items=MAX_ITEMS):
    """The items EASE regresses over (sorted): those at least two users of
    `histories` hold, at most the `max_items` most popular of them."""
    return _most_held(distinct_cells(histories, num_items)[1], num_items, max_items)


def _most_held(items, num_items, max_items):
    """`ease_items` of the items of distinct (user, item) cells."""
    holders = np.bincount(items, minlength=num_items)
    kept = np.flatnonzero(holders >= 2)
    return np.sort(kept[np.argsort(-holders[kept], kind="stable")[:max_items]])


def padded_ease_weights(histories, num_items, l2, max_items, per_item=WEIGHTS_PER_ITEM):
    """`ease_weights`, padded with (PADDING_KEY, 0) to the fixed size
    `max_items * per_item` a model's variables hold."""
    keys, weights = ease_weights(histories, num_items, l2, max_items, per_item)
    size = max_items * per_item
    return (np.concatenate([keys, np.full(size - len(keys), PADDING_KEY, np.int64)]),
            np.concatenate([weights, np.zeros(size - len(weights), np.float32)]))


def _gram(owners, columns, size, users_at_a_time=1024):
    """X^T X `[size, size]` (float64) of the 0/1 matrix with ones at (owners, columns), a block of users at a time."""
    gram = np.zeros((size, size), np.float64)
    for start in range(0, int(owners.max(initial=-1)) + 1, users_at_a_time):
        rows = (owners >= start) & (owners < start + users_at_a_time)
        block = np.zeros((users_at_a_time, size), np.float32)
        block[owners[rows] - start, columns[rows]] = 1.0
        gram += block.T @ block
    return gram
