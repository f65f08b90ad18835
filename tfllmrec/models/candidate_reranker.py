"""`CandidateReranker`: re-orders a retrieval model's shortlist with a listwise-trained scorer."""

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfllmrec.models.loss_scaled_train_step import LossScaledTrainStep
from tfllmrec.models.item_regression import PADDING_KEY, WEIGHTS_PER_ITEM, padded_ease_weights
from tfllmrec.models.reranker_head import RerankerHead, head_scores, scorer_layers
from tfllmrec.models.reranker_lookups import (copy_scores, cosines, feature_moments, pair_values,
                                              purchases_between, stored_scores)
from tfllmrec.models.user_neighbors import nearest_users, neighbor_votes

FEATURES = ("retrieval_score", "log_rank_in_list", "log_item_count", "item_offset", "second_score",
            "vector_cos_last", "vector_cos_recent", "vector_max_cos_recent", "text_cos_last", "text_cos_recent",
            "text_max_cos_recent", "log_pairs_last", "log_pairs_recent", "log_pairs_cosine_recent",
            "ease_score", "log_neighbor_votes", "log_periods_since_item", "log_purchases_this_period",
            "log_purchases_recent_periods")
# How many periods up to the request's "recent periods" counts purchases in.
RECENT_PERIODS = 4
# The score of a padding candidate (-1): below any real one, yet finite, so a
# zero label times its log-probability stays 0 in the loss.
PADDING_SCORE = -1e9


class CandidateReranker(LossScaledTrainStep, tfrs.Model):
    """Scores `[batch, n]` candidates from what the retrieval stage knows of them.

    Per (user, candidate) it reads features a dot product cannot combine:
    the retrieval score and its rank among the list's candidates (nothing
    reads the whole catalogue: the cost follows the list, not the
    catalogue), the item's training popularity, how close the candidate is
    to the user's most recent items (in the retrieval model's item space,
    and in the frozen MiniLM text space: the last item, the mean and the
    best match of the last `recent_items`), how often it stood near those
    items in training histories (`num_pairs` item pairs; with `pair_cosine`
    also as item-kNN's cosine, the counts over the root of both items'
    popularity), EASE's item-to-item regression score from those items
    (`ease_items`), how many of the user's `neighbors` most similar users hold
    it among their latest `recent_items` (user-kNN, weighted by cosine), the
    score a second retrieval model gives it, and, with time
    periods, how many periods ago the item was last bought before the
    request and how often it was bought in the request's period and the
    `RECENT_PERIODS` up to it. A linear term plus a small MLP over the
    standardised features gives the score; `compute_loss` is TFRS
    `tasks.Ranking` with a listwise softmax over each shortlist.

    With `heads` > 1 it holds that many such scorers, and the score is
    their mean (bagging). A training list may carry `"fold"`: the one head
    that does not learn from it, so each head can be measured on the lists
    it never saw (`score_candidates(..., heads=)`).

    The retrieval model's state (every user's query vector, the item vectors,
    their offsets, each user's request period; the same of the second
    model; each user's neighbours; EASE's weights) is copied in by `follow`,
    so scoring needs nothing but this model, as an export does.
    Features: `{"user": int [batch], "item": int [batch, n] (the shortlist),
    "label": float [batch, n] (1: an item the user chose)}`.

    Args:
        num_users, num_items: int. Table sizes.
        embedding_dim: int. The retrieval model's vector size.
        text_dim: int or None. Size of the item text embeddings; None: no text features.
        num_periods: int. The retrieval model's time periods; 0: none.
        num_purchases: int. Training interactions with a period
            (`set_item_statistics`): how many bought each item in the
            request's period and the `RECENT_PERIODS` up to it.
        num_pairs: int. Distinct item pairs with a co-occurrence count
            (`set_item_statistics`); 0: no co-occurrence features.
        item_bias: bool. The retrieval model adds a per-item offset (news'
            click-through-rate prior), which becomes a feature of its own.
        recent_items: int. How many of a user's latest items the features compare with.
        pair_cosine: bool. With pairs, also their item-kNN cosine (a feature of its own).
        neighbors: int. Similar users whose latest items vote for a candidate; 0: none.
        ease_items: int. Items EASE's weights may cover (`follow` fits
            them, `tfllmrec.models.item_regression`); 0: no EASE feature.
        ease_l2: float. EASE's L2 weight (its lambda), with `ease_items`.
        second_dim: int. Vector size of a second retrieval model whose score
            is a feature (`follow(..., second=)`); 0: none.
        hidden_units: tuple of int. The MLP beside the linear term; (): linear only.
        cross_layers: int. DCN cross layers (`tfrs.layers.dcn.Cross`) the
            standardised features pass through first; 0: none.
        heads: int. Scorers whose scores are averaged; 1: one.

    Example:
    >>> model = CandidateReranker(num_users=3, num_items=5, embedding_dim=4)
    >>> model.score_candidates(tf.constant([0, -1]), tf.constant([[1, 2], [3, 4]])).shape
    TensorShape([2, 2])
    """

    def __init__(self, num_users, num_items, embedding_dim, text_dim=None, num_periods=0, num_purchases=0, num_pairs=0,
                 item_bias=False, recent_items=5, pair_cosine=False, neighbors=0, second_dim=0, hidden_units=(32,),
                 cross_layers=0, heads=1, ease_items=0, ease_l2=100.0, **kwargs):
        super().__init__(**kwargs)
        self.num_users, self.num_items, self.embedding_dim = int(num_users), int(num_items), int(embedding_dim)
        self.text_dim = int(text_dim) if text_dim else None
        self.num_periods, self.num_pairs, self.recent_items = int(num_periods), int(num_pairs), int(recent_items)
        self.neighbors, self.second_dim = int(neighbors), int(second_dim)
        self.pair_cosine = bool(pair_cosine) and self.num_pairs > 0
        self.num_purchases = int(num_purchases) if self.num_periods else 0
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.item_bias, self.cross_layers = bool(item_bias), int(cross_layers)
        self.heads = int(heads)
        self.ease_items, self.ease_l2 = int(ease_items), float(ease_l2)
        if self.recent_items < 1:
            raise ValueError(f"recent_items={recent_items}: compare with at least 1 item.")
        if self.heads < 1:
            raise ValueError(f"heads={heads}: score with at least 1 head.")
        self.feature_names = tuple(f for f in FEATURES if (self.text_dim or not f.startswith("text"))
                                   and (self.num_pairs or not f.startswith("log_pairs"))
                                   and (self.item_bias or f != "item_offset")
                                   and (self.pair_cosine or f != "log_pairs_cosine_recent")
                                   and (self.neighbors or f != "log_neighbor_votes")
                                   and (self.ease_items or f != "ease_score")
                                   and (self.second_dim or f != "second_score")
                                   and (self.num_periods or f != "log_periods_since_item")
                                   and (self.num_purchases or not f.startswith("log_purchases")))

        def state(name, shape, dtype=tf.float32, fill=0):
            return self.add_weight(name=name, shape=shape, dtype=dtype, trainable=False,
                                   initializer=tf.keras.initializers.Constant(fill))

        self.user_vectors = state("user_vectors", [self.num_users, self.embedding_dim])
        self.item_vectors = state("item_vectors", [self.num_items, self.embedding_dim])
        self.item_offsets = state("item_offsets", [self.num_items])
        self.log_item_counts = state("log_item_counts", [self.num_items])
        self.recent = state("recent", [self.num_users, self.recent_items], tf.int32, -1)
        if self.text_dim:
            self.text_units = state("text_units", [self.num_items, self.text_dim])
        if self.num_pairs:
            # Sorted keys `first * num_items + second`: a checkpointed sparse matrix.
            self.pair_keys = state("pair_keys", [self.num_pairs], tf.int64, -1)
            self.pair_counts = state("pair_counts", [self.num_pairs])
        if self.neighbors:
            self.neighbor_ids = state("neighbor_ids", [self.num_users, self.neighbors], tf.int32, -1)
            self.neighbor_weights = state("neighbor_weights", [self.num_users, self.neighbors])
        if self.ease_items:
            # Sorted keys `from * num_items + to`, padded at the end: `follow` refits them.
            self.ease_keys = state("ease_keys", [self.ease_items * WEIGHTS_PER_ITEM], tf.int64, PADDING_KEY)
            self.ease_weights = state("ease_weights", [self.ease_items * WEIGHTS_PER_ITEM])
        if self.second_dim:
            self.second_user_vectors = state("second_user_vectors", [self.num_users, self.second_dim])
            self.second_item_vectors = state("second_item_vectors", [self.num_items, self.second_dim])
            self.second_item_offsets = state("second_item_offsets", [self.num_items])
        if self.num_periods:
            self.user_period = state("user_period", [self.num_users], tf.int32, -1)
            self.item_last_period = state("item_last_period", [self.num_items], tf.int32, -1)
        if self.num_purchases:
            # Sorted keys `item * num_periods + period`, one per training interaction.
            self.purchase_keys = state("purchase_keys", [self.num_purchases], tf.int64, -1)
        size = len(self.feature_names)
        self.feature_mean, self.feature_scale = state("feature_mean", [size]), state("feature_scale", [size], fill=1)
        # The first head's layers are the model's own, where one-head checkpoints keep them.
        self.cross, self.linear, self.mlp = scorer_layers(self.cross_layers, self.hidden_units)
        self.more_heads = [RerankerHead(self.cross_layers, self.hidden_units, name=f"head_{k}")
                           for k in range(1, self.heads)]
        self.task = tfrs.tasks.Ranking(loss=tf.keras.losses.CategoricalCrossentropy(from_logits=True))

    def set_item_statistics(self, item_counts, text_table=None, item_last_periods=None, pairs=None, purchases=None):
        """The training split's facts about items: interaction counts, text
        embeddings `[num_items, text_dim]`, each item's latest training period
        (-1: none), `pairs`: (sorted keys `[num_pairs]`, counts), as
        `tfllmrec.tasks.rerank.item_pairs` counts them, and `purchases`:
        (items, periods) `[num_purchases]` of the training interactions."""
        self.log_item_counts.assign(np.log1p(np.asarray(item_counts, np.float32)))
        if self.num_pairs:
            keys, counts = pairs
            self.pair_keys.assign(np.asarray(keys, np.int64))
            self.pair_counts.assign(np.asarray(counts, np.float32))
        if self.text_dim:
            table = np.asarray(text_table, np.float32)
            self.text_units.assign(table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-12))
        if self.num_periods:
            self.item_last_period.assign(np.asarray(item_last_periods, np.int32))
        if self.num_purchases:
            items, periods = (np.asarray(a, np.int64) for a in purchases)
            self.purchase_keys.assign(np.sort(items * self.num_periods + periods))

    def follow(self, retrieval, histories, second=None):
        """Copies the retrieval model's current state: every user's query
        vector (with the history and periods it holds now), the item vectors
        and offsets, the same of `second` (required with `second_dim`), each
        user's latest `recent_items` of `histories` and their `neighbors`
        most similar users by them, and EASE's weights fitted to them."""
        copy_scores(retrieval, self.user_vectors, self.item_vectors, self.item_offsets)
        if self.second_dim:
            if second is None:
                raise ValueError("This reranker reads a second retrieval model's score (second_dim="
                                 f"{self.second_dim}): pass it as follow(retrieval, histories, second=...).")
            copy_scores(second, self.second_user_vectors, self.second_item_vectors, self.second_item_offsets)
        if self.neighbors:
            ids, cosines = nearest_users(histories, self.num_users, self.num_items, self.neighbors)
            self.neighbor_ids.assign(ids)
            self.neighbor_weights.assign(cosines)
        if self.ease_items:
            keys, weights = padded_ease_weights(histories, self.num_items, self.ease_l2, self.ease_items)
            self.ease_keys.assign(keys)
            self.ease_weights.assign(weights)
        table = np.full((self.num_users, self.recent_items), -1, np.int32)
        for user, items in enumerate(histories):
            items = list(items)[-self.recent_items:]
            table[user, :len(items)] = items
        self.recent.assign(table)
        if self.num_periods:
            self.user_period.assign(retrieval.user_tower.user_period)

    def set_standardization(self, users, candidates):
        """Standardises each feature by its mean and spread over these shortlists (the training lists)."""
        mean, spread = feature_moments(self.features, users, candidates)
        self.feature_mean.assign(mean.astype(np.float32))
        self.feature_scale.assign((spread + 1e-6).astype(np.float32))

    def features(self, users, candidates):
        """Raw features `[batch, n, len(feature_names)]`; a user index of -1
        (unknown to the model) has zeros for every user-dependent one, and a
        padding candidate (-1) item 0's."""
        known = tf.cast(users >= 0, tf.float32)[:, None]
        real = candidates >= 0
        users, candidates = tf.maximum(users, 0), tf.maximum(candidates, 0)
        score = stored_scores(self.user_vectors, self.item_vectors, self.item_offsets, users, candidates)
        # The list's real candidates scored above each one: its rank in the list.
        rank = tf.reduce_sum(tf.cast((score[:, None, :] > score[:, :, None]) & real[:, None, :], tf.float32), 2)
        recent = tf.gather(self.recent, users)
        has_recent = tf.cast(recent >= 0, tf.float32)
        # Where the latest item sits in each user's row (filled from the left).
        last = tf.maximum(tf.reduce_sum(tf.cast(recent >= 0, tf.int32), 1) - 1, 0)
        has_last = tf.cast(recent[:, 0] >= 0, tf.float32)[:, None] * known
        columns = {"retrieval_score": score * known, "log_rank_in_list": tf.math.log1p(rank) * known,
                   "log_item_count": tf.gather(self.log_item_counts, candidates),
                   "item_offset": tf.gather(self.item_offsets, candidates)}
        if self.second_dim:
            columns["second_score"] = known * stored_scores(self.second_user_vectors, self.second_item_vectors,
                                                            self.second_item_offsets, users, candidates)
        if self.neighbors:
            votes = neighbor_votes(tf.gather(self.neighbor_ids, users), tf.gather(self.neighbor_weights, users),
                                   self.recent, candidates)
            columns["log_neighbor_votes"] = tf.math.log1p(votes) * known
        for name, table in (("vector", self.item_vectors), ("text", getattr(self, "text_units", None))):
            if table is None:
                continue
            near = cosines(tf.gather(table, candidates), tf.gather(table, tf.maximum(recent, 0)), has_recent)
            columns[f"{name}_cos_last"] = tf.gather(near, last[:, None], axis=2, batch_dims=1)[..., 0] * has_last
            count = tf.maximum(tf.reduce_sum(has_recent, 1), 1.0)[:, None]
            columns[f"{name}_cos_recent"] = tf.reduce_sum(near, 2) / count * has_last
            columns[f"{name}_max_cos_recent"] = tf.reduce_max(near - 2.0 * (1 - has_recent[:, None]), 2) * has_last
        if self.num_pairs:
            pairs = (pair_values(self.pair_keys, self.pair_counts, self.num_items, recent, candidates)
                     * has_recent[:, None, :] * known[:, :, None])
            columns["log_pairs_last"] = tf.math.log1p(tf.gather(pairs, last[:, None], axis=2, batch_dims=1)[..., 0])
            columns["log_pairs_recent"] = tf.math.log1p(tf.reduce_sum(pairs, 2))
        if self.ease_items:
            weights = pair_values(self.ease_keys, self.ease_weights, self.num_items, recent, candidates)
            columns["ease_score"] = tf.reduce_sum(weights * has_recent[:, None, :], 2) * known
        if self.pair_cosine:
            # Item-kNN's cosine: co-occurrence over the root of both items' popularity.
            counts = tf.maximum(tf.math.expm1(self.log_item_counts), 1.0)
            popularity = tf.sqrt(tf.gather(counts, candidates)[:, :, None]
                                 * tf.gather(counts, tf.maximum(recent, 0))[:, None, :])
            columns["log_pairs_cosine_recent"] = tf.math.log1p(tf.reduce_sum(pairs / popularity, 2))
        if self.num_periods:
            since = tf.gather(self.user_period, users)[:, None] - tf.gather(self.item_last_period, candidates)
            columns["log_periods_since_item"] = tf.math.log1p(
                tf.cast(tf.clip_by_value(since, 0, 1000), tf.float32)) * known
        if self.num_purchases:
            period = tf.cast(tf.gather(self.user_period, users), tf.int64)[:, None]
            for name, periods in (("this_period", 1), ("recent_periods", RECENT_PERIODS)):
                bought = purchases_between(self.purchase_keys, self.num_periods, candidates,
                                           period - periods, period)
                columns[f"log_purchases_{name}"] = tf.math.log1p(bought) * known
        return tf.stack([columns[name] for name in self.feature_names], -1)

    def score_candidates(self, users, candidates, training=False, heads=None):
        """Scores `[batch, n]` of each user's candidates (higher: ranked first).

        Args:
            users: int tensor `[batch]`; -1: a user the model does not know.
            candidates: int tensor `[batch, n]` of item indices; -1: padding,
                scored `PADDING_SCORE`.
            heads: None (the mean of every head), or int `[batch]`: the head
                that scores each row.
        """
        every = self.head_scores(users, candidates, training)
        if heads is None:
            scores = tf.reduce_mean(every, 0)
        else:
            scores = tf.gather(tf.transpose(every, [1, 0, 2]), tf.cast(heads, tf.int32), batch_dims=1)
        return tf.where(candidates >= 0, scores, PADDING_SCORE)

    def head_scores(self, users, candidates, training=False):
        """`[heads, batch, n]`: each head's scores (padding not yet masked)."""
        inputs = (self.features(users, candidates) - self.feature_mean) / self.feature_scale
        return tf.stack([head_scores(head, inputs, training) for head in (self, *self.more_heads)])

    def call(self, features, training=False):
        return self.score_candidates(features["user"], features["item"], training=training)

    def compute_loss(self, features, training=False):
        every = self.head_scores(features["user"], features["item"], training=training)
        every = tf.where(features["item"] >= 0, every, PADDING_SCORE)
        labels = tf.cast(features["label"], every.dtype)
        # Listwise softmax: each list's chosen items share one unit of target mass.
        labels = labels / tf.maximum(tf.reduce_sum(labels, 1, keepdims=True), 1.0)
        # The heads' losses add up: each head's gradient is its own loss's. Head k
        # learns from every list but those of fold k (-1, or no folds: from every list).
        fold = features.get("fold")
        return tf.add_n([self.task(labels=labels, predictions=every[k],
                                   sample_weight=None if fold is None else tf.cast(fold != k, every.dtype))
                         for k in range(self.heads)])

    def get_config(self):
        return dict(num_users=self.num_users, num_items=self.num_items, embedding_dim=self.embedding_dim,
                    text_dim=self.text_dim, num_periods=self.num_periods, num_purchases=self.num_purchases,
                    num_pairs=self.num_pairs,
                    item_bias=self.item_bias, recent_items=self.recent_items, pair_cosine=self.pair_cosine,
                    neighbors=self.neighbors, second_dim=self.second_dim, cross_layers=self.cross_layers,
                    hidden_units=list(self.hidden_units), heads=self.heads, ease_items=self.ease_items,
                    ease_l2=self.ease_l2)

    @classmethod
    def from_config(cls, config):
        return cls(**config)
