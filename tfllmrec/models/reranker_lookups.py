"""The state lookups a `CandidateReranker` computes its features with."""

import numpy as np
import tensorflow as tf


def distinct_cells(histories, num_items):
    """(owners, items), int64: every distinct (user, item) of `histories`
    (one item list per user), sorted by user, then item."""
    owners = np.repeat(np.arange(len(histories), dtype=np.int64), [len(h) for h in histories])
    items = np.concatenate([np.asarray(h, np.int64) for h in histories] or [np.zeros(0, np.int64)])
    cells = np.unique(owners * num_items + items)
    return cells // num_items, cells % num_items


def pair_values(pair_keys, values, num_items, recent, candidates):
    """`[batch, n, r]` values of a sparse item-by-item matrix (co-occurrence
    counts, EASE's weights) at (each recent item, each candidate), from
    sorted keys `first * num_items + second`; 0 where it holds none."""
    keys = (tf.cast(tf.maximum(recent, 0), tf.int64)[:, None, :] * num_items
            + tf.cast(candidates, tf.int64)[:, :, None])
    flat = tf.reshape(keys, [-1])
    position = tf.minimum(tf.searchsorted(pair_keys, flat), tf.size(pair_keys, tf.int32) - 1)
    found = tf.cast(tf.equal(tf.gather(pair_keys, position), flat), tf.float32)
    return tf.reshape(tf.gather(values, position) * found, tf.shape(keys))


def purchases_between(purchase_keys, num_periods, candidates, after, until):
    """`[batch, n]` training purchases of each candidate in periods (after,
    until], from sorted keys `item * num_periods + period`."""
    base = tf.cast(candidates, tf.int64) * num_periods
    # Periods below 0 would reach into the previous item's keys.
    after, until = tf.maximum(after, -1), tf.maximum(until, -1)
    ends = tf.reshape(tf.stack([base + after, base + until]), [-1])
    found = tf.reshape(tf.searchsorted(purchase_keys, ends, side="right"), [2, -1])
    return tf.reshape(tf.cast(found[1] - found[0], tf.float32), tf.shape(candidates))


def copy_scores(retrieval, user_vectors, item_vectors, item_offsets, batch=4096):
    """Copies what a retrieval model scores with: every user's query vector, the item vectors and offsets."""
    count = user_vectors.shape[0]
    users = tf.range(count, dtype=tf.int32)
    user_vectors.assign(tf.concat([retrieval.query(users[i:i + batch]) for i in range(0, count, batch)], 0))
    item_vectors.assign(retrieval.candidates())
    offsets = retrieval.offsets()
    item_offsets.assign(np.zeros(item_offsets.shape, np.float32) if offsets is None else offsets)


def stored_scores(user_vectors, item_vectors, item_offsets, users, candidates):
    """`[batch, n]` scores of `copy_scores`' state: user `[batch]` · candidate `[batch, n]` + offset."""
    return (tf.einsum("bd,bnd->bn", tf.gather(user_vectors, users), tf.gather(item_vectors, candidates))
            + tf.gather(item_offsets, candidates))


def cosines(candidates, recent, has_recent):
    """`[batch, n, r]` cosines of candidates `[b, n, d]` to recent items `[b, r, d]`, 0 at padding."""
    candidates, recent = tf.math.l2_normalize(candidates, -1), tf.math.l2_normalize(recent, -1)
    return tf.einsum("bnd,brd->bnr", candidates, recent) * has_recent[:, None, :]


def feature_moments(features, users, candidates, batch=1024):
    """(mean, spread), float64 `[f]`, of `features(users, candidates)` `[b, n, f]`
    over every real candidate (padding, -1, left out); in batches, as the lists can be many."""
    candidates = np.asarray(candidates)
    parts = []
    for i in range(0, len(users), batch):
        values = features(tf.constant(users[i:i + batch], tf.int32), tf.constant(candidates[i:i + batch], tf.int32))
        values = values.numpy().astype(np.float64)
        parts.append(values.reshape(-1, values.shape[-1])[candidates[i:i + batch].reshape(-1) >= 0])
    count = max(sum(len(part) for part in parts), 1)
    mean = sum(part.sum(0) for part in parts) / count
    return mean, np.sqrt(sum(((part - mean) ** 2).sum(0) for part in parts) / count)
