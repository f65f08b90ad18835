"""`RecommenderModule`: a trained two-tower model as a TF Serving SavedModel."""

import numpy as np
import tensorflow as tf

from tfllmrec.export.id_lookup import id_lookup
from tfllmrec.export.ivf_index import IVFIndex
from tfllmrec.export.ranking_stage import ITEM_IDS, RankingStage

DEFAULT_K = 10
USER_ID = tf.TensorSpec([None], tf.string, name="user_id")
# What a seen item loses: it ranks below every unseen one, yet is still returned when k asks for more.
SEEN_PENALTY = 1e4
K = tf.TensorSpec([], tf.int32, name="k")


def checked(tensor, shape):
    """`tensor`, or an InvalidArgument error (HTTP 400) when its shape is not `shape`.

    Stock TF Serving feeds each request's tensors to the graph without
    checking them against the signature: a wrong rank would otherwise fail
    deep inside (a RaggedGather, a 500). REST's row format stacks every input
    per instance, so a `k` sent inside each instance arrives as `[1]`.
    """
    return tf.ensure_shape(tensor, shape)


def checked_k(k):
    """`k` as a scalar of at least 1, or InvalidArgument."""
    k = checked(k, [])
    tf.debugging.assert_positive(k, message="k must be a positive integer")
    return k


class RecommenderModule(tf.Module):
    """The retrieval-only export: recommendations over precomputed vectors.

    Item vectors (the catalogue index) and user vectors are computed at
    export time from the trained towers, so a request is a lookup, a matrix
    product and a top-k: no BERT inside. `TextRecommenderModule` adds the
    text signatures. Signatures, every input checked in the graph (a wrong
    rank or a k below 1 is InvalidArgument, which TF Serving answers 400):
    - `serving_default(user_id: string [batch])` -> `item_ids` string
      `[batch, top_k]`, `scores` float `[batch, top_k]`: one input, so every
      TF Serving request form takes it (REST rows, columns or a bare list);
    - `recommend_k(user_id, k: int32 scalar)`: the same with a per-request k
      (REST columnar format, gRPC; over gRPC k defaults to `top_k`).
    With a `ranker` (a run's ranking stage) two more:
    - `rank(user_id: string [batch], item_ids: string [batch, n])` ->
      `scores` float `[batch, n]`: the ranking model's score of each
      candidate (a predicted rating, or a reranker's score: higher first); an id outside the catalogue is
      InvalidArgument, an unknown user gets the items' user-free score;
    - `recommend_ranked(user_id)` -> `item_ids`, `scores` `[batch, top_k]`:
      two stages, the `rank_candidates` best retrieved items re-ordered by
      the ranking model.
    The user's seen items rank last; an unknown user gets the most popular
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
        top_k: int. Items `serving_default` returns, and `recommend_k`'s default.
        index: dict or None. `IVFIndex` options (partitions, probe,
            precision, ...): search an inverted-file index of `item_vectors`
            (and the offsets) instead of scoring every item, for catalogues
            of millions. None: brute force.
        ranker: tfllmrec.models.TextRanking, CandidateReranker or None. The
            ranking stage, over the same user and item indices.
        rank_candidates: int. Items the retrieval stage hands the ranking
            stage in `recommend_ranked`.
        history: HistoryRecommenderModule or None. Adds its
            `recommend_by_history` (a user is the recent item ids sent).

    Example (u1 has seen "a"; "zz" is unknown and gets the most popular):
    >>> module = RecommenderModule(["u1"], ["a", "b", "c"], np.ones((1, 2)), np.eye(3, 2),
    ...                            [[0]], np.array([1.0, 3.0, 2.0]), top_k=2)
    >>> module.serving_default(tf.constant(["u1", "zz"]))["item_ids"].numpy().tolist()
    [[b'b', b'c'], [b'b', b'c']]
    >>> module.recommend_k(tf.constant(["u1"]), tf.constant(1))["item_ids"].numpy().tolist()
    [[b'b']]
    """

    def __init__(self, user_ids, item_ids, user_vectors, item_vectors, seen, popularity, item_offsets=None,
                 top_k=DEFAULT_K, index=None, ranker=None, rank_candidates=100, history=None):
        super().__init__(name="recommender")
        if int(top_k) < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}.")
        self.top_k = int(top_k)
        # SignatureDef defaults come from Python defaults: a function per module carries this top_k.
        def recommend_k(user_id, k=tf.constant(self.top_k)):
            return self._recommend(checked(user_id, [None]), checked_k(k))

        self.recommend_k = tf.function(recommend_k, input_signature=[USER_ID, K])
        self.num_items = len(item_ids)
        self.user_table = id_lookup(user_ids)
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
        self.index = None
        if index is not None:
            self.index = IVFIndex(self.item_vectors, item_offsets=self.item_offsets, **index)
            self._index_lookups(seen, popularity)
        self.history = history
        self.ranking = None
        if ranker is not None:
            self.ranking = RankingStage(ranker, item_ids)
            self.rank_candidates = int(rank_candidates)
            self.rank = tf.function(self._rank, input_signature=[USER_ID, ITEM_IDS])
            self.recommend_ranked = tf.function(self._recommend_ranked, input_signature=[USER_ID])

    def _index_lookups(self, seen, popularity):
        """What an index search needs besides the index: seen (user, item) pairs as sorted keys
        (its candidates are sparse, so a search beats a dense mask), and the popular order."""
        keys = [user * self.num_items + np.asarray(items, np.int64)
                for user, items in enumerate(seen) if len(items)]
        # -1 first: the search below always finds a key to compare with.
        self.seen_keys = tf.Variable(np.concatenate([[-1]] + keys).astype(np.int64), trainable=False,
                                     name="seen_keys")
        self.popular_order = popular_order(popularity)

    has_text = False

    def _top_k(self, scores, k):
        k = tf.minimum(tf.cast(k, tf.int32), self.num_items)
        top = tf.math.top_k(scores, k=k)
        return {"item_ids": tf.gather(self.item_ids, top.indices), "scores": top.values}

    @tf.function(input_signature=[USER_ID])
    def serving_default(self, user_id):
        return self._recommend(checked(user_id, [None]), self.top_k)

    def _recommend(self, user_id, k):
        users = self.user_table.lookup(user_id)
        known = users >= 0
        rows = tf.maximum(users, 0)
        queries = tf.gather(self.user_vectors, rows)
        if self.index is not None:
            return self._search_index(queries, rows, known, k)
        scores = tf.matmul(queries, self.item_vectors, transpose_b=True)
        if self.item_offsets is not None:
            scores += self.item_offsets
        seen = tf.RaggedTensor.from_row_splits(self.seen_items, self.seen_splits)
        seen = tf.gather(seen, rows)
        positions = tf.stack([seen.value_rowids(), seen.flat_values], axis=1)
        ones = tf.ones_like(seen.flat_values, tf.float32)
        mask = tf.scatter_nd(positions, ones, tf.shape(scores, out_type=tf.int64)) > 0
        # Seen items go to the bottom, not out: k may exceed what is unseen.
        scores = tf.where(mask, scores - SEEN_PENALTY, scores)
        fallback = tf.broadcast_to(self.popularity, tf.shape(scores))
        scores = tf.where(known[:, None], scores, fallback)
        return self._top_k(scores, k)

    def _search_index(self, queries, rows, known, k):
        """`_recommend` through the index: the same scores, seen items and unknown users' fallback,
        over the items of the partitions nearest each user (a place no candidate fills: id "", -inf)."""

        def seen_penalty(items):
            keys = tf.reshape(rows[:, None] * self.num_items + items, [-1])
            nearest = tf.gather(self.seen_keys, tf.searchsorted(self.seen_keys, keys, side="right") - 1)
            return tf.reshape(tf.where(nearest == keys, SEEN_PENALTY, 0.0), tf.shape(items))

        seen_counts = tf.gather(self.seen_splits, rows + 1) - tf.gather(self.seen_splits, rows)
        scores, items = self.index.search(queries, tf.minimum(tf.cast(k, tf.int32), self.num_items), seen_penalty,
                                          penalized=tf.reduce_max(seen_counts))
        scores, items = popular_where_unknown(scores, items, known[:, None], self.popular_order, self.popularity)
        # Not a concat of "" to the catalogue's ids: that copies every id per request.
        ids = tf.where(items >= 0, tf.gather(self.item_ids, tf.maximum(items, 0)), "")
        return {"item_ids": ids, "scores": scores}

    def _rank(self, user_id, item_ids):
        item_ids = checked(item_ids, [None, None])
        user_id = checked(user_id, [None])
        tf.debugging.assert_equal(tf.shape(item_ids)[0], tf.shape(user_id)[0],
                                  message="rank needs one row of item_ids per user_id")
        return {"scores": self.ranking.score(self.user_table.lookup(user_id), item_ids)}

    def _recommend_ranked(self, user_id):
        user_id = checked(user_id, [None])
        shortlist = self._recommend(user_id, self.rank_candidates)
        demoted = shortlist["scores"] < -SEEN_PENALTY / 2
        scores = self.ranking.rerank(self.user_table.lookup(user_id), shortlist["item_ids"], demoted, SEEN_PENALTY)
        top = tf.math.top_k(scores, k=tf.minimum(self.top_k, tf.shape(scores)[1]))
        return {"item_ids": tf.gather(shortlist["item_ids"], top.indices, batch_dims=1), "scores": top.values}

    def signatures(self):
        """The signature map for `tf.saved_model.save`."""
        signatures = {"serving_default": self.serving_default, "recommend_k": self.recommend_k}
        if self.ranking is not None:
            signatures.update(rank=self.rank, recommend_ranked=self.recommend_ranked)
        if self.history is not None:
            signatures.update({name: function for name, function in self.history.signatures().items()
                               if name != "serving_default"})
        return signatures


def popular_order(popularity, k=None):
    """A `tf.Variable` of the item indices, most popular first (the first `k`; None: all):
    an index search's answer to a query with nothing to go on."""
    order = np.argsort(-np.asarray(popularity), kind="stable")[:k]
    return tf.Variable(order.astype(np.int64), trainable=False, name="popular_order")


def popular_where_unknown(scores, items, known, order, popularity):
    """(scores, items) `[batch, k]` of an index search, with the most popular items
    (`order`, a `popular_order`) in the rows where `known` `[batch, 1]` is False."""
    popular = tf.broadcast_to(order[None, :tf.shape(items)[1]], tf.shape(items))
    return tf.where(known, scores, tf.gather(popularity, popular)), tf.where(known, items, popular)
