"""`TwoTowerRetrieval`: a TFRS retrieval model over user history and item text."""

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfllmrec.model_rules import check_two_tower, effective_options
from tfllmrec.models.impression_loss import ctr_prior_scores, impression_softmax_loss
from tfllmrec.models.encoder_fine_tuning import EncoderFineTuningMixin
from tfllmrec.towers import ItemTower, UserTower

# The options and their defaults: a recipe's `ModelConfig` has exactly these
# fields, so a recipe builds its model with `TwoTowerRetrieval(**sizes, **fields)`.
OPTIONS = dict(
    encoder="all-minilm-l6-v2", sequence_length=64, trainable="none", use_text=True,
    use_user_ids=True, use_item_ids=True, embedding_dim=64, text_hidden_dim=256, id_dropout=0.3,
    history_pooling="none", max_history=50, temperature=0.2, loss="full_softmax",
    logq_correction=True, text_loss_weight=0.0, text_dropout=0.0, period_days=0,
    ctr_prior_weight=0.0, ctr_prior_strength=40.0, fuse_text=True, cold_neighbors=0,
    cold_neighbor_temperature=0.1, fine_tune_items=64,
)


class TwoTowerRetrieval(EncoderFineTuningMixin, tfrs.Model):
    """Two-tower retrieval: users and items in one space, scored by dot product.

    Candidate tower: item-id embedding + MLP of the item's frozen text
    embedding (`ItemTower`). Query tower: user-id embedding + the mean of the
    user's history items (`UserTower`), whose vectors come from their own
    tables (`history_pooling="ids"`, `"text"`, `"ids+text"`) or from the
    candidate tower itself (`"shared"`), + a learned vector of the request's
    time period. Features are integer indices: `{"user": [batch], "item":
    [batch]}` (plus `"period": [batch]` with time periods) for retrieval, or
    `{"user": [batch], "candidates": [batch, c]}` for impressions (the click
    first, then items shown and not clicked, -1 padding): `compute_loss`
    is the full or in-batch softmax, or the softmax over each impression.

    Args:
        num_users, num_items: int. Table sizes.
        text_dim: int or None. Size of the item text embeddings; None: no text.
        num_periods: int. Time periods of the query tower (from the data,
            with `period_days`); 0: off.
        encoder, sequence_length: str, int. The text encoder and token
            length the text table was made with (`TextEncoder.from_preset`),
            kept with the config so a model says where its text came from.
        trainable: str. Fine-tuning of that encoder: "none" (the towers
            read the frozen text table), "top:N" or "all": the encoder is a
            live layer of the item tower (`LiveItemText`, its inputs set by
            `set_text_inputs`); each training step re-embeds the batch's
            items, and the text table, which the full softmax's other
            items and all inference read, is re-embedded by
            `refresh_text` (the trainer calls it every
            `train.encoder_refresh_steps` steps and after each epoch).
        use_text, use_user_ids, use_item_ids: bool. What the towers hold.
        embedding_dim: int. Size of the shared space.
        text_hidden_dim: int. Hidden units of the text MLPs; 0: linear.
        id_dropout: float. Item-id dropout in training (the cold-start path).
        text_dropout: float. Dropout in the text MLPs in training.
        history_pooling: str. "none", "ids", "text", "ids+text" or "shared".
        max_history: int. History items kept per user.
        temperature: float. Softmax temperature.
        loss: str. "full_softmax" (every item a negative: exact, and cheap
            up to ~100k items) or "in_batch" (TFRS `Retrieval`: the batch's
            other items, with logQ correction).
        logq_correction: bool. Subtract each in-batch candidate's log
            sampling probability (in_batch only).
        text_loss_weight: float. Weight of a second loss scoring the same
            positives against items placed by their text alone (the
            vectors new items get), so the cold-start path trains on every
            interaction and `id_dropout` can stay low. 0: off.
        period_days: int. Length in days of the time periods: training uses
            each interaction's period, evaluation each user's latest in the
            evaluated part (the request's time), serving the latest trained
            period. Needs timestamps; 0: off.
        ctr_prior_weight: float. Impressions only: this weight times the log
            of each item's smoothed click-through rate in the training
            impressions is added to its logit at scoring (a popularity prior,
            as PP-Rec adds news popularity); the rate is (clicks + s * r) /
            (shown + s), s = `ctr_prior_strength`, r the overall rate, so a
            rarely shown (or new) item gets about r. The training loss leaves
            it out: the prior counts the very clicks being learned. 0: off.
        ctr_prior_strength: float. Pseudo-impressions s above.
        fuse_text: bool. Known items' vectors add the text MLP to their ids.
            False: ids alone (as the ID-only model); text then places items
            without a trained id and free-text queries, trained by the text
            loss, which does not move the users.
        cold_neighbors: int. Place items without a trained id at the mean
            vector of their k nearest known items in text space (see
            `ItemTower`); 0: by the text MLP.
        cold_neighbor_temperature: float. Softmax temperature of that mean.
        fine_tune_items: int. With a fine-tuning encoder, the items per
            training step that it re-embeds (with gradients): a random
            subset of the batch's distinct items; the others read the
            text table. It bounds a step's cost: on 2 CPU cores one
            MiniLM layer takes about 1 s for 350 titles, forward and
            backward. 0: every distinct item of the batch.

    The text options are ignored without text (`use_text=False`), so one
    option turns a recipe into its ID-only version; `fuse_text` and
    `cold_neighbors` also without item ids (every item is then its text).

    Example:
    >>> model = TwoTowerRetrieval(num_users=10, num_items=20, embedding_dim=8)
    >>> model.score(tf.constant([0, 1])).shape
    TensorShape([2, 20])
    """

    def __init__(self, num_users, num_items, text_dim=None, num_periods=0, **options):
        keras_kwargs = {k: options.pop(k) for k in ("name",) if k in options}
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise TypeError(f"TwoTowerRetrieval got unknown options {unknown}; valid: {sorted(OPTIONS)}.")
        super().__init__(**keras_kwargs)
        self.options = dict(OPTIONS, **options)
        self._given_text_dim = text_dim
        check_two_tower(self.options, text_dim)
        o, used = self.options, effective_options(self.options, text_dim)
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.text_dim = int(text_dim) if used["has_text"] else None
        self.num_periods, self.period_days = int(num_periods), int(o["period_days"])
        if self.num_periods and self.period_days <= 0:
            raise ValueError("num_periods > 0 needs period_days > 0.")
        self.embedding_dim, self.use_item_ids = int(o["embedding_dim"]), bool(o["use_item_ids"])
        self.history_pooling, self.max_history = o["history_pooling"], used["max_history"]
        self.temperature = float(o["temperature"])
        # Not `self.loss`: Keras' compile() overwrites that attribute.
        self.retrieval_loss, self.logq_correction = o["loss"], bool(o["logq_correction"])
        self.text_loss_weight, self.fuse_text = used["text_loss_weight"], used["fuse_text"]
        self.cold_neighbors = used["cold_neighbors"]
        self.cold_neighbor_temperature = float(o["cold_neighbor_temperature"])
        self.ctr_prior_weight, self.item_bias = float(o["ctr_prior_weight"]), used["item_bias"]
        text = dict(text_dim=self.text_dim, text_hidden_dim=o["text_hidden_dim"],
                    text_dropout=o["text_dropout"])
        self.item_tower = ItemTower(
            self.num_items, self.embedding_dim, use_item_ids=self.use_item_ids, id_dropout=o["id_dropout"],
            fuse_text=self.fuse_text, cold_neighbors=self.cold_neighbors,
            cold_neighbor_temperature=self.cold_neighbor_temperature, name="item_tower", **text)
        self.live_text = self.build_live_text(o, used["has_text"])
        if self.live_text is not None:
            self.item_tower.attach_live_text(self.live_text, int(o["fine_tune_items"]))
        self.user_tower = UserTower(
            self.num_users, self.embedding_dim, use_user_ids=o["use_user_ids"],
            max_history=self.max_history, num_periods=self.num_periods, name="user_tower")
        self.history_items = None
        if self.history_pooling in ("ids", "text", "ids+text"):
            uses_text = "text" in self.history_pooling
            self.history_items = ItemTower(
                self.num_items, self.embedding_dim, use_item_ids=self.history_pooling != "text",
                normalize=False, name="history_items",
                **dict(text, text_dim=self.text_dim if uses_text else None))
        self.log_q = self.add_weight(
            name="log_q", shape=[self.num_items], trainable=False,
            initializer=tf.keras.initializers.Constant(-np.log(self.num_items)))
        self.in_training = self.add_weight(
            name="in_training", shape=[self.num_items], trainable=False, initializer="ones")
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
        """Sets the per-item score offsets, in dot-product units (needs `ctr_prior_weight` > 0).

        Args:
            offsets: float array `[num_items]`.
            new_item_offset: float. The offset of an item added after
                training (`TrainedRun.add_items`).
        """
        if not self.item_bias:
            raise ValueError("set_item_bias needs a model built with ctr_prior_weight > 0.")
        offsets = np.asarray(offsets, np.float32)
        if offsets.shape != (self.num_items,) or not np.all(np.isfinite(offsets)):
            raise ValueError(f"item offsets must be {self.num_items} finite numbers, got shape "
                             f"{offsets.shape}.")
        self.item_offsets.assign(offsets)
        self.new_item_offset.assign(float(new_item_offset))

    def set_ctr_prior(self, log_rates, log_overall_rate):
        """Sets the offsets to `ctr_prior_weight` x each item's log click-through rate
        (`IndexedImpressions.log_ctr_prior`), in dot-product units: logits divide by
        the temperature, scores do not."""
        self.set_item_bias(*(ctr_prior_scores(rates, self.ctr_prior_weight, self.temperature)
                             for rates in (log_rates, log_overall_rate)))

    def offsets(self):
        """The per-item score offsets `[num_items]` as a NumPy array, or None without them."""
        return self.item_offsets.numpy() if self.item_bias else None

    def _history_vectors(self, table=None):
        if self.history_pooling == "none":
            return None
        if self.history_pooling == "shared":
            return self.item_tower.raw(self._all_items, table=table)
        return self.history_items.raw(self._all_items)

    def query(self, users, exclude_items=None, periods=None, training=False, table=None):
        """User vectors `[batch, embedding_dim]` (`table`: the step's text table)."""
        return self.user_tower(
            users, item_vectors=self._history_vectors(table), exclude_items=exclude_items,
            periods=periods, training=training,
        )

    def candidates(self, items=None, training=False, table=None):
        """Item vectors; all items when `items` is None (`table`: the step's text table)."""
        return self.item_tower(self._all_items if items is None else items, training=training, table=table)

    def _step_table(self, items, training):
        if not self.item_tower.text_dim:
            return None
        # An XLA-compiled step (compile(jit_compile=True)) needs static shapes.
        return self.item_tower.step_table(items, training, static_shapes=bool(getattr(self, "jit_compile", False)))

    def _text_towers(self):
        return [t for t in (self.item_tower, self.history_items) if t is not None and t.text_dim]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="users")])
    def score(self, users):
        """Scores of every item for each user: `[batch, num_items]` (with the item offsets)."""
        scores = tf.matmul(self.query(users), self.candidates(), transpose_b=True)
        return scores + self.item_offsets if self.item_bias else scores

    def impression_logits(self, users, candidates, training=False):
        """`[batch, c]` scores over the temperature of `candidates` `[batch, c]` (-1: padding).

        In training the click (column 0) is left out of the user's pooled history.
        """
        items = tf.reshape(tf.maximum(candidates, 0), [-1])
        table = self._step_table(items, training)
        query = self.query(users, exclude_items=candidates[:, 0] if training else None, training=training,
                           table=table)
        flat = self.candidates(items, training=training, table=table)
        vectors = tf.reshape(flat, tf.concat([tf.shape(candidates), [-1]], 0))
        return tf.einsum("bd,bcd->bc", query, vectors) / self.temperature

    def compute_loss(self, features, training=False):
        users = features["user"]
        if "candidates" in features:
            logits = self.impression_logits(users, features["candidates"], training=training)
            return impression_softmax_loss(logits, features["candidates"])
        items = features["item"]
        table = self._step_table(items, training)
        query = self.query(users, exclude_items=items if training else None,
                           periods=features.get("period"), training=training, table=table)
        loss = self._loss(query, items, self.candidates(self._all_items if self._full else items,
                                                        training=training, table=table))
        if self.text_loss_weight:
            text_only = self.item_tower.text_only(self._all_items if self._full else items, table)
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
        return dict(num_users=self.num_users, num_items=self.num_items,
                    text_dim=self._given_text_dim,
                    num_periods=self.num_periods, **self.options)

    @classmethod
    def from_config(cls, config):
        return cls(**config)
