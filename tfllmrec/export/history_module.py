"""`HistoryRecommenderModule`: a sequential model served from the request's recent items."""

import numpy as np
import tensorflow as tf

from tfllmrec.export.recommender_module import SEEN_PENALTY, checked

HISTORY = tf.TensorSpec([None, None], tf.string, name="item_ids")


class HistoryRecommenderModule(tf.Module):
    """Real-time recommendations: the user is the items they just had, sent with the request.

    Holds a trained `SequentialRetrieval`'s query tower and its item vectors
    (computed once at export time: the catalogue index, and the inputs the
    tower reads), so a new user's first clicks or a session's latest items
    personalise the answer with no retraining. Signature:

    - `recommend_by_history(item_ids: string [batch, n])`, oldest first, most
      recent last, "" padding (REST's row format stacks each instance's list,
      so a batch pads to one length) -> `item_ids` string `[batch, top_k]`,
      `scores` float `[batch, top_k]`, and `because_item_ids` string
      `[batch, top_k]`: for each recommended item, the history item nearest
      to it ("because you viewed X").

    Only the latest `max_length` items are read. An id outside the
    catalogue (an item newer than the export) is read as padding; a history
    with no known item gets the most popular items. The history's own items
    rank last. Every input is one tensor, so every TF Serving request form
    takes it.

    Args:
        model: tfllmrec.models.SequentialRetrieval, trained.
        item_ids: array of str `[I]`: the ids of the model's item indices.
        popularity: float array `[I]`: the ranking of a history with no known item.
        top_k: int. Items returned per request.

    Example:
    >>> from tfllmrec.models import SequentialRetrieval
    >>> model = SequentialRetrieval(num_users=1, num_items=4, embedding_dim=8, max_length=3)
    >>> module = HistoryRecommenderModule(model, ["a", "b", "c", "d"], np.array([1.0, 4.0, 3.0, 2.0]), top_k=2)
    >>> out = module.recommend_by_history(tf.constant([["a", "c"], ["", "zz"]]))
    >>> [sorted(row) for row in out["item_ids"].numpy().tolist()][1]  # nothing known: the most popular
    [b'b', b'c']
    """

    def __init__(self, model, item_ids, popularity, top_k=10):
        super().__init__(name="history_recommender")
        ids = np.asarray(item_ids, dtype=str)
        self.query_tower = model.query_tower
        self.max_length = int(model.max_length)
        self.top_k = int(min(top_k, len(ids)))
        self.item_vectors = tf.Variable(model.candidates().numpy(), trainable=False, name="item_vectors")
        self.popularity = tf.Variable(np.asarray(popularity, np.float32), trainable=False, name="popularity")
        self.catalogue_ids = tf.Variable(tf.constant(ids), trainable=False, name="catalogue_ids")
        self.item_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(ids), tf.range(len(ids), dtype=tf.int64)),
            default_value=-1)

    @tf.function(input_signature=[HISTORY])
    def recommend_by_history(self, item_ids):
        item_ids = checked(item_ids, [None, None])[:, -self.max_length:]
        history = tf.cast(self.item_table.lookup(item_ids), tf.int32)
        known = history >= 0
        vectors = tf.gather(self.item_vectors, tf.maximum(history, 0))
        query = self.query_tower.last(vectors, known)
        scores = tf.matmul(query, self.item_vectors, transpose_b=True)
        anything = tf.reduce_any(known, axis=1, keepdims=True)
        scores = tf.where(anything, scores, self.popularity[None, :])
        # The history's items sink (a one-hot of the catalogue per history item would cost n x I).
        rows = tf.broadcast_to(tf.range(tf.shape(history)[0])[:, None], tf.shape(history))
        where = tf.reshape(tf.stack([rows, tf.maximum(history, 0)], axis=-1), [-1, 2])
        sink = tf.reshape(tf.where(known, SEEN_PENALTY, 0.0), [-1])
        top = tf.math.top_k(tf.tensor_scatter_nd_sub(scores, where, sink), k=self.top_k)
        return {"item_ids": tf.gather(self.catalogue_ids, top.indices), "scores": top.values,
                "because_item_ids": self._nearest_history_item(item_ids, vectors, known, top.indices)}

    def _nearest_history_item(self, item_ids, vectors, known, recommended):
        """`[batch, k]`: the history item whose vector is closest to each recommendation ("" for none)."""
        chosen = tf.gather(self.item_vectors, recommended)  # [batch, k, d]
        closeness = tf.einsum("bkd,bnd->bkn", chosen, vectors)
        closeness = tf.where(known[:, None, :], closeness, -np.inf)
        nearest = tf.argmax(closeness, axis=2, output_type=tf.int32)
        because = tf.gather(item_ids, nearest, batch_dims=1)
        return tf.where(tf.reduce_any(known, axis=1, keepdims=True), because, "")

    def signatures(self):
        """The signature map for `tf.saved_model.save`."""
        return {"serving_default": self.recommend_by_history, "recommend_by_history": self.recommend_by_history}
