"""`TwoTowerRetrieval`: a TFRS retrieval model over user history and item text."""

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfllmrec.towers import ItemTower, UserTower

_HISTORY = ("none", "ids", "text", "ids+text", "shared")
_LOSSES = ("in_batch", "full_softmax")


class TwoTowerRetrieval(tfrs.Model):
    """Two-tower retrieval: users and items in one space, scored by dot product.

    Candidate tower: item-id embedding + MLP of the item's text embedding
    (`ItemTower`). Query tower: user-id embedding + the mean of the user's
    history items (`UserTower`), whose item vectors come from their own
    tables (`history_pooling="ids"`, `"text"`, `"ids+text"`) or from the candidate
    tower itself (`"shared"`). Features are integer indices:
    `{"user": [batch], "item": [batch]}`, plus `"period": [batch]` (each
    interaction's time period) when `num_periods` > 0.

    Args:
        num_users: int. Number of users.
        num_items: int. Number of items.
        embedding_dim: int. Size of the shared space.
        use_user_ids: bool. User-id embedding in the query tower.
        use_item_ids: bool. Item-id embedding in the candidate tower.
        text_dim: int or None. Size of the item text embeddings; None: ids only.
        text_hidden_dim: int. Hidden units of the text MLPs; 0: linear.
        text_dropout: float. Dropout in the text MLPs in training.
        id_dropout: float. Item-id dropout in training.
        history_pooling: str. One of "none", "ids", "text", "ids+text", "shared".
        max_history: int. History items kept per user.
        temperature: float. Softmax temperature of the retrieval loss.
        retrieval_loss: str. "in_batch" (TFRS `Retrieval`, other batch items are the
            negatives, with logQ correction) or "full_softmax" (every item is
            a negative: exact, and cheap for catalogues up to ~100k items).
        logq_correction: bool. Subtract log sampling probability of each
            in-batch candidate (in_batch only).
        text_loss_weight: float. Weight of a second loss that scores the
            same positives against items placed by their text alone (the
            vectors new items get). It trains the cold-start path on every
            interaction instead of only the id-dropped ones, so `id_dropout`
            can stay low and leave the warm path undisturbed. 0: off.
        num_periods: int. Time periods of the query tower's period embedding
            (what was bought when: items come and go, and the time of a
            request says which are current); 0: off.
        period_days: int. Length of one period in days (how the trainer
            turns timestamps into periods); kept with the model's config.
        item_bias: bool. Keep a fixed (not trained) score offset per item,
            added to every dot-product score (`score`, serving), e.g. a
            popularity prior (`set_item_bias`); the training loss leaves it
            out. False: none.
        fuse_text: bool. Known items' vectors add the text MLP to their
            ids; False: ids alone, the text path placing only items without
            a trained id (see `ItemTower`), and the text loss then trains
            the text path alone: it does not reach the query tower.
        cold_neighbors: int. Place items without a trained id, and new
            items, at the mean vector of their k nearest known items in
            text space (see `ItemTower`); 0: by the text MLP.
        cold_neighbor_temperature: float. Softmax temperature of that mean.

    Example:
    >>> model = TwoTowerRetrieval(num_users=10, num_items=20, embedding_dim=8)
    >>> model.compile(optimizer=tf.keras.optimizers.Adam(1e-2))
    >>> model.score(tf.constant([0, 1])).shape
    TensorShape([2, 20])
    """

    def __init__(
        self,
        num_users,
        num_items,
        embedding_dim=64,
        use_user_ids=True,
        use_item_ids=True,
        text_dim=None,
        text_hidden_dim=256,
        id_dropout=0.0,
        history_pooling="none",
        max_history=50,
        temperature=0.1,
        retrieval_loss="in_batch",
        logq_correction=True,
        text_loss_weight=0.0,
        text_dropout=0.0,
        num_periods=0,
        period_days=0,
        item_bias=False,
        fuse_text=True,
        cold_neighbors=0,
        cold_neighbor_temperature=0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if history_pooling not in _HISTORY:
            raise ValueError(f"history_pooling={history_pooling!r}: use one of {_HISTORY}.")
        if retrieval_loss not in _LOSSES:
            raise ValueError(f"retrieval_loss={retrieval_loss!r}: use one of {_LOSSES}.")
        if temperature <= 0:
            raise ValueError("temperature must be positive.")
        if text_loss_weight and not text_dim:
            raise ValueError("text_loss_weight > 0 needs item text (text_dim).")
        if history_pooling in ("text", "ids+text") and not text_dim:
            raise ValueError(f"history_pooling={history_pooling!r} needs item text (text_dim).")
        self.num_users = int(num_users)
        self.num_items = int(num_items)
        self.embedding_dim = int(embedding_dim)
        self.use_user_ids = bool(use_user_ids)
        self.use_item_ids = bool(use_item_ids)
        self.text_dim = None if not text_dim else int(text_dim)
        self.text_hidden_dim = int(text_hidden_dim)
        self.id_dropout = float(id_dropout)
        self.text_dropout = float(text_dropout)
        self.history_pooling = history_pooling
        self.max_history = int(max_history) if history_pooling != "none" else 0
        self.temperature = float(temperature)
        # Not `self.loss`: Keras' compile() overwrites that attribute.
        self.retrieval_loss = retrieval_loss
        self.logq_correction = bool(logq_correction)
        self.text_loss_weight = float(text_loss_weight)
        self.num_periods = int(num_periods)
        self.period_days = int(period_days)
        if self.num_periods and self.period_days <= 0:
            raise ValueError("num_periods > 0 needs period_days > 0.")
        self.fuse_text = bool(fuse_text)
        self.cold_neighbors = int(cold_neighbors)
        self.cold_neighbor_temperature = float(cold_neighbor_temperature)

        self.item_tower = ItemTower(
            self.num_items, self.embedding_dim, use_item_ids=self.use_item_ids,
            text_dim=self.text_dim, text_hidden_dim=self.text_hidden_dim,
            id_dropout=self.id_dropout, text_dropout=self.text_dropout, fuse_text=self.fuse_text,
            cold_neighbors=self.cold_neighbors, cold_neighbor_temperature=self.cold_neighbor_temperature,
            name="item_tower",
        )
        self.user_tower = UserTower(
            self.num_users, self.embedding_dim, use_user_ids=self.use_user_ids,
            max_history=self.max_history, num_periods=self.num_periods, name="user_tower",
        )
        self.history_items = None
        if history_pooling in ("ids", "text", "ids+text"):
            self.history_items = ItemTower(
                self.num_items, self.embedding_dim, use_item_ids=history_pooling != "text",
                text_dim=self.text_dim if "text" in history_pooling else None,
                text_hidden_dim=self.text_hidden_dim, text_dropout=self.text_dropout,
                normalize=False, name="history_items",
            )
        self.log_q = self.add_weight(
            name="log_q", shape=[self.num_items], trainable=False,
            initializer=tf.keras.initializers.Constant(-np.log(self.num_items)),
        )
        self.in_training = self.add_weight(
            name="in_training", shape=[self.num_items], trainable=False, initializer="ones",
        )
        self.item_bias = bool(item_bias)
        # Variables only when asked for: checkpoints of models without them stay loadable.
        self.item_offsets = self.new_item_offset = None
        if self.item_bias:
            self.item_offsets = self.add_weight(name="item_offsets", shape=[self.num_items],
                                                trainable=False, initializer="zeros")
            self.new_item_offset = self.add_weight(name="new_item_offset", shape=[], trainable=False,
                                                   initializer="zeros")
        self.task = tfrs.tasks.Retrieval(temperature=self.temperature, remove_accidental_hits=True)
        self._all_items = tf.range(self.num_items)

    def set_training_data(self, item_counts, histories, text_table=None, user_periods=None):
        """Fills the non-trained state from the training split.

        Args:
            item_counts: array `[num_items]`: training interactions per item
                (sampling probabilities; items with 0 get no trained id and
                are no negatives of the full softmax).
            histories: list of item-index lists per user, oldest first.
            text_table: array `[num_items, text_dim]` or None.
            user_periods: int array `[num_users]` or None: the period of
                each user's validation request (-1: none); needed when
                `num_periods` > 0.
        """
        counts = np.asarray(item_counts, np.float64)
        self.log_q.assign(np.log(np.maximum(counts, 1.0) / max(counts.sum(), 1.0)).astype("float32"))
        self.in_training.assign((counts > 0).astype("float32"))
        for tower in (self.item_tower, self.history_items):
            if tower is None:
                continue
            tower.set_known_items(counts > 0)
            if text_table is not None and tower.text_dim:
                tower.set_text_table(text_table)
        if self.max_history:
            self.user_tower.set_history(histories)
        if self.num_periods:
            if user_periods is None:
                raise ValueError("num_periods > 0 needs user_periods (each user's request period, e.g. "
                             "IndexedSplit.latest_periods(period_days, 'valid')).")
            self.user_tower.set_periods(user_periods)

    def set_item_bias(self, offsets, new_item_offset=0.0):
        """Sets the per-item score offsets (in dot-product units; needs `item_bias=True`).

        Args:
            offsets: float array `[num_items]`.
            new_item_offset: float. The offset of an item added after
                training (`TrainedRun.add_items`), e.g. the prior's value for
                an item never shown.
        """
        if not self.item_bias:
            raise ValueError("set_item_bias needs a model built with item_bias=True.")
        offsets = np.asarray(offsets, np.float32)
        if offsets.shape != (self.num_items,) or not np.all(np.isfinite(offsets)):
            raise ValueError(f"item offsets must be {self.num_items} finite numbers, got shape "
                             f"{offsets.shape}.")
        self.item_offsets.assign(offsets)
        self.new_item_offset.assign(float(new_item_offset))

    def offsets(self):
        """The per-item score offsets `[num_items]` as a NumPy array, or None without `item_bias`."""
        return self.item_offsets.numpy() if self.item_bias else None

    def _history_vectors(self):
        if self.history_pooling == "none":
            return None
        if self.history_pooling == "shared":
            return self.item_tower.raw(self._all_items)
        return self.history_items.raw(self._all_items)

    def query(self, users, exclude_items=None, periods=None, training=False):
        """User vectors `[batch, embedding_dim]`."""
        return self.user_tower(
            users, item_vectors=self._history_vectors(), exclude_items=exclude_items,
            periods=periods, training=training,
        )

    def candidates(self, items=None, training=False):
        """Item vectors; all items when `items` is None."""
        return self.item_tower(self._all_items if items is None else items, training=training)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="users")])
    def score(self, users):
        """Scores of every item for each user: `[batch, num_items]` (with the item offsets)."""
        scores = tf.matmul(self.query(users), self.candidates(), transpose_b=True)
        return scores + self.item_offsets if self.item_bias else scores

    def compute_loss(self, features, training=False):
        users, items = features["user"], features["item"]
        query = self.query(users, exclude_items=items if training else None,
                           periods=features.get("period"), training=training)
        loss = self._loss(query, items, self.candidates(self._all_items if self._full else items,
                                                        training=training))
        if self.text_loss_weight:
            text_only = self.item_tower.text_only(self._all_items if self._full else items)
            # Unfused, the text path only learns to place items among the users the
            # ids trained: letting it move those users towards items that merely
            # read alike cost 0.03-0.04 NDCG@10 on MovieLens.
            text_query = query if self.fuse_text else tf.stop_gradient(query)
            loss += self.text_loss_weight * self._loss(text_query, items, text_only)
        return loss

    @property
    def _full(self):
        return self.retrieval_loss == "full_softmax"

    def _loss(self, query, items, candidates):
        if self._full:
            logits = tf.matmul(query, candidates, transpose_b=True)
            # Items absent from training (held-out cold items) are not
            # negatives: a new item does not exist yet when a model trains, and
            # pushing its text away from every user would bury it at serving.
            logits = logits / self.temperature - 1e9 * (1.0 - self.in_training)
            # Cross-entropy written out: under op determinism (every recipe run)
            # TensorFlow's sparse softmax cross-entropy switches to a slower
            # kernel that made a full-softmax epoch 1.5x longer on Last.fm.
            target = tf.reduce_sum(logits * tf.one_hot(items, self.num_items, dtype=logits.dtype), 1)
            return tf.reduce_sum(tf.reduce_logsumexp(logits, 1) - target)
        probability = tf.exp(tf.gather(self.log_q, items)) if self.logq_correction else None
        return self.task(
            query, candidates, candidate_sampling_probability=probability,
            candidate_ids=items, compute_metrics=False,
        )

    def get_config(self):
        return dict(
            num_users=self.num_users, num_items=self.num_items,
            embedding_dim=self.embedding_dim, use_user_ids=self.use_user_ids,
            use_item_ids=self.use_item_ids, text_dim=self.text_dim,
            text_hidden_dim=self.text_hidden_dim, id_dropout=self.id_dropout,
            history_pooling=self.history_pooling, max_history=self.max_history,
            temperature=self.temperature, retrieval_loss=self.retrieval_loss,
            logq_correction=self.logq_correction, text_loss_weight=self.text_loss_weight,
            text_dropout=self.text_dropout, num_periods=self.num_periods,
            period_days=self.period_days, item_bias=self.item_bias, fuse_text=self.fuse_text,
            cold_neighbors=self.cold_neighbors, cold_neighbor_temperature=self.cold_neighbor_temperature,
        )

    @classmethod
    def from_config(cls, config):
        return cls(**config)
