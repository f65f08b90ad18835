"""`HistoryRecommenderModule`: a sequential model served from the request's recent items."""

import numpy as np
import tensorflow as tf

from tfllmrec.export.id_lookup import id_lookup
from tfllmrec.export.ivf_index import IVFIndex
from tfllmrec.export.recommender_module import SEEN_PENALTY, checked, popular_order, popular_where_unknown
from tfllmrec.models.sequential_retrieval import rows_or_zeros

HISTORY = tf.TensorSpec([None, None], tf.string, name="item_ids")
USER_ID = tf.TensorSpec([None], tf.string, name="user_id")


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
      to it ("because you viewed X");
    - `recommend_for_user(user_id: string [batch], item_ids: string [batch, n])`:
      the same outputs; a row whose `item_ids` hold no known item reads the
      user's stored history instead (the model's `user_history`: their
      latest training items, in time order), so a known user needs no
      history in the request and a new one is served from what they just did.

    Only the latest `max_length` items are read. An id outside the
    catalogue (an item newer than the export) is read as padding; a history
    with no known item gets the most popular items. The history's own items
    rank last. Every input is one tensor, so every TF Serving request form
    takes it. With `index`, the items are found by an inverted-file index
    (`IVFIndex`, as `export.index=ivf` gives `recommend_k`); a place it
    leaves empty (fewer candidates in the probed partitions) has id "".

    Args:
        model: tfllmrec.models.SequentialRetrieval, trained.
        item_ids: array of str `[I]`: the ids of the model's item indices.
        popularity: float array `[I]`: the ranking of a history with no known item.
        top_k: int. Items returned per request.
        user_ids: array of str `[U]` or None: the ids of the model's user
            indices, whose stored histories `recommend_for_user` reads. None:
            `recommend_for_user` is left out.
        index: dict or None. `IVFIndex` options (partitions, probe,
            precision); None: every item is scored.

    Example:
    >>> from tfllmrec.models import SequentialRetrieval
    >>> model = SequentialRetrieval(num_users=1, num_items=4, embedding_dim=8, max_length=3)
    >>> module = HistoryRecommenderModule(model, ["a", "b", "c", "d"], np.array([1.0, 4.0, 3.0, 2.0]), top_k=2)
    >>> out = module.recommend_by_history(tf.constant([["a", "c"], ["", "zz"]]))
    >>> [sorted(row) for row in out["item_ids"].numpy().tolist()][1]  # nothing known: the most popular
    [b'b', b'c']
    """

    def __init__(self, model, item_ids, popularity, top_k=10, user_ids=None, index=None):
        super().__init__(name="history_recommender")
        ids = np.asarray(item_ids, dtype=str)
        self.query_tower = model.query_tower
        self.max_length = int(model.max_length)
        self.top_k = int(min(top_k, len(ids)))
        self.item_vectors = tf.Variable(model.candidates().numpy(), trainable=False, name="item_vectors")
        self.popularity = tf.Variable(np.asarray(popularity, np.float32), trainable=False, name="popularity")
        self.catalogue_ids = tf.Variable(tf.constant(ids), trainable=False, name="catalogue_ids")
        self.item_table = id_lookup(ids)
        self.index = None
        if index is not None:
            self.index = IVFIndex(self.item_vectors, **index)
            self.popular_order = popular_order(popularity, self.top_k)
        # The request's time is the latest trained period (a request comes after training).
        now = model.time_vectors(tf.constant([model.latest_period]))
        self.now = None if now is None else tf.Variable(now.numpy(), trainable=False, name="now")
        self.user_table = self.stored_history = self.recommend_for_user = self.user_vectors = None
        if user_ids is not None:
            self.user_table = id_lookup(user_ids)
            self.stored_history = tf.Variable(model.user_history.numpy(), trainable=False, name="stored_history")
            if model.user_embedding is not None:
                self.user_vectors = tf.Variable(model.user_embedding.embeddings.numpy(), trainable=False,
                                                name="user_vectors")
            self.recommend_for_user = tf.function(self._recommend_for_user, input_signature=[USER_ID, HISTORY])

    @tf.function(input_signature=[HISTORY])
    def recommend_by_history(self, item_ids):
        item_ids = checked(item_ids, [None, None])[:, -self.max_length:]
        return self._recommend(item_ids, tf.cast(self.item_table.lookup(item_ids), tf.int32), users=None)

    def _recommend_for_user(self, user_id, item_ids):
        user_id = checked(user_id, [None])
        # Both histories at full width, left-padded: the stored one is never cut to the request's.
        item_ids = _left_padded(checked(item_ids, [None, None])[:, -self.max_length:], self.max_length)
        history = tf.cast(self.item_table.lookup(item_ids), tf.int32)
        users = tf.cast(self.user_table.lookup(user_id), tf.int32)
        stored = tf.gather(self.stored_history, tf.maximum(users, 0))
        # A row with no known item, for a known user, reads the stored history.
        fall_back = ((~tf.reduce_any(history >= 0, axis=1)) & (users >= 0))[:, None]
        stored_ids = tf.where(stored >= 0, tf.gather(self.catalogue_ids, tf.maximum(stored, 0)), "")
        return self._recommend(tf.where(fall_back, stored_ids, item_ids), tf.where(fall_back, stored, history),
                               users)

    def _recommend(self, item_ids, history, users):
        known = history >= 0
        vectors = tf.gather(self.item_vectors, tf.maximum(history, 0))
        query = self.query_tower.last(vectors, known, user_vectors=self._user_vectors(users),
                                      time_vectors=self._time_vectors(tf.shape(history)[0]))
        anything = tf.reduce_any(known, axis=1, keepdims=True)
        top = self._index_top(query, history, anything) if self.index is not None else \
            self._scanned_top(query, history, known, anything)
        scores, items = top
        found = items >= 0
        recommended = tf.maximum(items, 0)
        because = self._nearest_history_item(item_ids, vectors, known, recommended)
        return {"item_ids": tf.where(found, tf.gather(self.catalogue_ids, recommended), ""), "scores": scores,
                "because_item_ids": tf.where(found, because, "")}

    def _user_vectors(self, users):
        """The user-id vectors of a model with user ids (zeros for an unknown user), else None."""
        if self.user_vectors is None or users is None:
            return None
        return rows_or_zeros(self.user_vectors, users)

    def _time_vectors(self, batch):
        return None if self.now is None else tf.tile(self.now, [batch, 1])

    def _scanned_top(self, query, history, known, anything):
        """(scores, item indices) `[batch, top_k]` of every item scored, the history's items last."""
        scores = tf.matmul(query, self.item_vectors, transpose_b=True)
        scores = tf.where(anything, scores, self.popularity[None, :])
        # The history's items sink (a one-hot of the catalogue per history item would cost n x I).
        rows = tf.broadcast_to(tf.range(tf.shape(history)[0])[:, None], tf.shape(history))
        where = tf.reshape(tf.stack([rows, tf.maximum(history, 0)], axis=-1), [-1, 2])
        sink = tf.reshape(tf.where(known, SEEN_PENALTY, 0.0), [-1])
        top = tf.math.top_k(tf.tensor_scatter_nd_sub(scores, where, sink), k=self.top_k)
        return top.values, top.indices

    def _index_top(self, query, history, anything):
        """(scores, item indices, -1 where none) `[batch, top_k]` of the index's search, the history's items last."""

        def history_penalty(items):
            # -2 never matches a candidate, nor the -1 of a place no candidate fills.
            held_ids = tf.cast(tf.where(history >= 0, history, -2), items.dtype)
            held = tf.reduce_any(items[:, :, None] == held_ids[:, None, :], axis=2)
            return tf.where(held, SEEN_PENALTY, 0.0)

        scores, items = self.index.search(query, self.top_k, history_penalty, penalized=tf.shape(history)[1])
        return popular_where_unknown(scores, items, anything, self.popular_order, self.popularity)

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
        signatures = {"serving_default": self.recommend_by_history, "recommend_by_history": self.recommend_by_history}
        if self.user_table is not None:
            signatures["recommend_for_user"] = self.recommend_for_user
        return signatures



def _left_padded(item_ids, width):
    """String ids `[batch, n <= width]` left-padded with "" to `[batch, width]`."""
    missing = width - tf.shape(item_ids)[1]
    return tf.concat([tf.fill([tf.shape(item_ids)[0], missing], ""), item_ids], axis=1)
