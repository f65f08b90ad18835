"""`RecommenderModule`: a trained two-tower model as a TF Serving SavedModel."""

import numpy as np
import tensorflow as tf

DEFAULT_K = 10


class RecommenderModule(tf.Module):
    """The retrieval-only export: `serving_default` over precomputed vectors.

    Item vectors (the catalogue index) and user vectors are computed at
    export time from the trained towers, so `serving_default` is a lookup, a
    matrix product and a top-k: no BERT inside. `TextRecommenderModule`
    adds the text signatures.

    Signature `serving_default(user_id: string [batch], k: int32 scalar = 10)`
    -> `item_ids` string `[batch, k]`, `scores` float `[batch, k]`. The
    user's seen items rank last; an unknown user gets the most popular
    items. k is capped at the catalogue size.

    Args:
        user_ids: array of str `[U]`.
        item_ids: array of str `[I]`.
        user_vectors: float array `[U, d]`.
        item_vectors: float array `[I, d]`.
        seen: list of U lists of item indices to leave out per user.
        popularity: float array `[I]`: the unknown-user ranking.
        item_offsets: float array `[I]` or None. Added to every known
            user's scores (a model's fixed per-item prior,
            `TwoTowerRetrieval.set_item_bias`); None: none.

    Example:
    >>> module = RecommenderModule(["u1"], ["a", "b"], np.ones((1, 2)), np.eye(2),
    ...                            [[0]], np.array([1.0, 2.0]))
    >>> module.serving_default(tf.constant(["u1"]), tf.constant(1))["item_ids"]
    """

    def __init__(self, user_ids, item_ids, user_vectors, item_vectors, seen, popularity, item_offsets=None):
        super().__init__(name="recommender")
        num_users = len(user_ids)
        self.num_items = len(item_ids)
        self.user_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(np.asarray(user_ids, dtype=str)),
                tf.range(num_users, dtype=tf.int64),
            ),
            default_value=-1,
        )
        # Kept as variables too, so clients and tools can list the vocabulary.
        self.user_ids = tf.Variable(np.asarray(user_ids, dtype=str).astype(object), trainable=False,
                                    dtype=tf.string, name="user_ids")
        self.item_ids = tf.Variable(np.asarray(item_ids, dtype=str).astype(object), trainable=False,
                                    dtype=tf.string, name="item_ids")
        self.user_vectors = tf.Variable(np.asarray(user_vectors, np.float32), trainable=False, name="user_vectors")
        self.item_vectors = tf.Variable(np.asarray(item_vectors, np.float32), trainable=False, name="item_vectors")
        lengths = [len(s) for s in seen]
        self.seen_splits = tf.Variable(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                                       trainable=False, name="seen_row_splits")
        flat = np.concatenate([np.asarray(s, np.int64) for s in seen]) if sum(lengths) else np.zeros(0, np.int64)
        self.seen_items = tf.Variable(flat, trainable=False, name="seen_items")
        self.popularity = tf.Variable(np.asarray(popularity, np.float32), trainable=False, name="popularity")
        # Only when given: exports without a prior keep their variables as they were.
        self.item_offsets = None
        if item_offsets is not None:
            self.item_offsets = tf.Variable(np.asarray(item_offsets, np.float32), trainable=False,
                                            name="item_offsets")

    has_text = False

    def _top_k(self, scores, k):
        k = tf.minimum(tf.cast(k, tf.int32), self.num_items)
        top = tf.math.top_k(scores, k=k)
        return {"item_ids": tf.gather(self.item_ids, top.indices), "scores": top.values}

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name="user_id"),
        tf.TensorSpec([], tf.int32, name="k"),
    ])
    def serving_default(self, user_id, k=tf.constant(DEFAULT_K)):
        users = self.user_table.lookup(user_id)
        known = users >= 0
        rows = tf.maximum(users, 0)
        scores = tf.matmul(tf.gather(self.user_vectors, rows), self.item_vectors, transpose_b=True)
        if self.item_offsets is not None:
            scores += self.item_offsets
        seen = tf.RaggedTensor.from_row_splits(self.seen_items, self.seen_splits)
        seen = tf.gather(seen, rows)
        positions = tf.stack([seen.value_rowids(), seen.flat_values], axis=1)
        ones = tf.ones_like(seen.flat_values, tf.float32)
        mask = tf.scatter_nd(positions, ones, tf.shape(scores, out_type=tf.int64)) > 0
        # Seen items go to the bottom, not out: k may exceed what is unseen.
        scores = tf.where(mask, scores - 1e4, scores)
        fallback = tf.broadcast_to(self.popularity, tf.shape(scores))
        scores = tf.where(known[:, None], scores, fallback)
        return self._top_k(scores, k)

    def signatures(self):
        """The signature map for `tf.saved_model.save`."""
        return {"serving_default": self.serving_default}
