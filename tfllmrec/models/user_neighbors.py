"""User-kNN for a reranker: each user's most similar users, and the votes they give an item."""

import numpy as np
import tensorflow as tf

from tfllmrec.models.reranker_lookups import distinct_cells


def nearest_users(histories, num_users, num_items, k, batch=256):
    """Each user's `k` most similar users by the cosine of their item sets.

    Users are compared through the items of `histories` (each distinct item
    once), as user-kNN does; a user is never their own neighbour, and a
    neighbour with nothing in common (cosine 0) is left out.

    Args:
        histories: list of item-index lists, one per user (fewer than
            `num_users`: the rest have none).
        num_users, num_items: int. Table sizes.
        k: int. Neighbours per user (>= 1).
        batch: int. Users compared with everyone at a time.

    Returns:
        (ids `[num_users, k]` int32, -1 where there are fewer neighbours;
        cosines `[num_users, k]` float32, 0 there), best first.

    Example:
    >>> ids, cosines = nearest_users([[0, 1], [0, 1, 2], [3]], num_users=3, num_items=4, k=2)
    >>> ids.tolist(), np.round(cosines.astype(float), 3).tolist()
    ([[1, -1], [0, -1], [-1, -1]], [[0.816, 0.0], [0.816, 0.0], [0.0, 0.0]])
    """
    if k < 1:
        raise ValueError(f"k={k}: keep at least 1 neighbour per user.")
    # Sorted by user, then item: the order a SparseTensor needs.
    pairs = np.stack(distinct_cells(histories, num_items), 1)
    norms = np.sqrt(np.maximum(np.bincount(pairs[:, 0], minlength=num_users), 1)).astype(np.float32)
    matrix = tf.sparse.SparseTensor(pairs, tf.ones(len(pairs), tf.float32), [num_users, num_items])
    ids = np.full((num_users, k), -1, np.int32)
    cosines = np.zeros((num_users, k), np.float32)
    width = min(k, num_users - 1)
    for start in range(0, num_users if width > 0 else 0, batch):
        size = min(batch, num_users - start)
        rows = tf.sparse.to_dense(tf.sparse.slice(matrix, [start, 0], [size, num_items]))
        # [size, num_users] overlaps, then cosines; a user is not their own neighbour.
        overlap = tf.transpose(tf.sparse.sparse_dense_matmul(matrix, rows, adjoint_b=True)).numpy()
        similar = overlap / norms[start:start + size, None] / norms[None, :]
        similar[np.arange(size), np.arange(start, start + size)] = 0.0
        best = tf.math.top_k(similar, width)
        values, found = best.values.numpy(), best.indices.numpy()
        kept = values > 0
        ids[start:start + size, :width] = np.where(kept, found, -1)
        cosines[start:start + size, :width] = np.where(kept, values, 0.0)
    return ids, cosines


def neighbor_votes(neighbor_ids, neighbor_weights, held_items, candidates):
    """`[batch, n]`: per candidate, the summed weight of the neighbours holding it.

    Args:
        neighbor_ids: int tensor `[batch, k]`; -1: no neighbour.
        neighbor_weights: float tensor `[batch, k]`.
        held_items: int tensor `[num_users, r]`: each user's items, -1 padding.
        candidates: int tensor `[batch, n]`; -1 (padding) gets 0.
    """
    held = tf.gather(held_items, tf.maximum(neighbor_ids, 0))  # [b, k, r]
    weights = neighbor_weights * tf.cast(neighbor_ids >= 0, neighbor_weights.dtype)
    weights = tf.where(held >= 0, tf.broadcast_to(weights[:, :, None], tf.shape(held)), 0.0)
    batch, k = tf.shape(held)[0], tf.shape(held)[1]
    # One sort by (item, neighbour): a neighbour's repeats of an item sit
    # side by side (each neighbour votes once per item), and an item's votes
    # are then a difference of running sums, with no [b, n, k * r]
    # comparison and nothing the size of the catalogue.
    slots = tf.cast(k, tf.int64)
    keys = (tf.cast(held, tf.int64) + 1) * slots + tf.range(slots)[None, :, None]
    keys = tf.reshape(keys, [batch, -1])
    order = tf.argsort(keys, axis=1, stable=True)
    keys = tf.gather(keys, order, batch_dims=1)
    first = tf.concat([tf.ones([batch, 1], tf.bool), keys[:, 1:] != keys[:, :-1]], 1)
    weights = tf.gather(tf.reshape(weights, [batch, -1]), order, batch_dims=1) * tf.cast(first, tf.float32)
    items = keys // slots - 1
    running = tf.concat([tf.zeros([batch, 1]), tf.cumsum(weights, axis=1)], 1)
    candidates = tf.cast(candidates, tf.int64)
    start = tf.searchsorted(items, candidates, side="left")
    end = tf.searchsorted(items, candidates, side="right")
    votes = tf.gather(running, end, batch_dims=1) - tf.gather(running, start, batch_dims=1)
    return tf.where(candidates >= 0, votes, 0.0)
