"""`TextRanking`: scores (user, item) pairs: biases, a factor dot product, text, an optional MLP."""

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfllmrec.models.loss_scaled_train_step import LossScaledTrainStep
from tfllmrec.towers import ItemTower, UserTower

_OBJECTIVES = ("rating", "click")
_INIT_STDDEV = 0.01


class TextRanking(LossScaledTrainStep, tfrs.Model):
    """Ranking model: `offset + b_user + b_item + b_text(item) + <user, item> [+ MLP]`,
    with `b_profile(user)` and a profile term in `user` where users have profiles.

    A biased matrix factorisation whose item side is the `ItemTower` (id
    vector plus a projection of the item's frozen text embedding, so an
    item without a training rating is placed by its text) and whose user
    side is the `UserTower` (id vector plus, with `max_history`, the mean of
    implicit-factor vectors of the items the user rated: SVD++'s implicit
    feedback). `offset` is the training labels' mean (a rating) or log-odds
    (a click), set by `set_training_data`. With `user_text_dim`, a linear
    projection of each user's profile text (MovieLens' age, gender and
    occupation, embedded by the items' encoder) adds to the user's vector
    and bias, so a user without ratings (index -1) is scored from their
    profile, given to `score_candidates` as `profiles`.

    `objective="rating"` regresses ratings (MSE; RMSE and MAE metrics);
    `objective="click"` predicts clicks (binary cross-entropy on logits; AUC).
    Features: `{"user": int [batch], "item": int [batch], "label": float [batch]}`.
    `score_candidates` scores `[batch, n]` candidates per user: the one
    definition shared by training, evaluation and the export's `rank`.

    Args:
        num_users: int. Number of users.
        num_items: int. Number of items.
        embedding_dim: int. Factor size.
        use_item_ids: bool. Item-id embedding.
        text_dim: int or None. Size of item text embeddings; None: ids only.
        text_hidden_dim: int. Hidden units of the text MLP; 0: linear.
        max_history: int. Rated items kept per user for the implicit term; 0: none.
        hidden_units: tuple of int. An MLP over `[user, item, user * item]`
            added to the score; (): none.
        l2: float. L2 penalty on every embedding and kernel.
        objective: str. "rating" or "click".
        user_text_dim: int or None. Size of user profile embeddings; None: none.

    Example:
    >>> model = TextRanking(num_users=5, num_items=7, objective="click")
    >>> model.compile(optimizer=tf.keras.optimizers.Adam(1e-2))
    >>> model.score_candidates(tf.constant([0]), tf.constant([[3, 4]])).shape
    TensorShape([1, 2])
    """

    def __init__(
        self,
        num_users,
        num_items,
        embedding_dim=64,
        use_item_ids=True,
        text_dim=None,
        text_hidden_dim=0,
        max_history=0,
        hidden_units=(),
        l2=0.0,
        objective="rating",
        user_text_dim=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if objective not in _OBJECTIVES:
            raise ValueError(f"objective={objective!r}: use one of {_OBJECTIVES}.")
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.embedding_dim = int(embedding_dim)
        self.use_item_ids = bool(use_item_ids)
        self.text_dim = None if not text_dim else int(text_dim)
        self.text_hidden_dim = int(text_hidden_dim)
        self.max_history = int(max_history)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.l2 = float(l2)
        self.objective = objective
        self.user_text_dim = None if not user_text_dim else int(user_text_dim)
        # Factors start near zero (as Surprise's SVD's do): a prediction starts
        # at the biases, and the L2 penalty pulls towards where training began.
        small = tf.keras.initializers.RandomNormal(stddev=_INIT_STDDEV)
        self.user_tower = UserTower(self.num_users, self.embedding_dim, use_user_ids=True,
                                    max_history=self.max_history, normalize=False, init_stddev=_INIT_STDDEV,
                                    history_norm="sqrt", name="user_tower")
        self.item_tower = ItemTower(self.num_items, self.embedding_dim, use_item_ids=self.use_item_ids,
                                    text_dim=self.text_dim, text_hidden_dim=self.text_hidden_dim,
                                    normalize=False, init_stddev=_INIT_STDDEV, name="item_tower")
        self.history_items = None
        if self.max_history:
            self.history_items = tf.keras.layers.Embedding(self.num_items, self.embedding_dim,
                                                           embeddings_initializer=small, name="history_items")
        self.user_bias = tf.keras.layers.Embedding(self.num_users, 1, embeddings_initializer="zeros",
                                                   name="user_bias")
        self.item_bias = tf.keras.layers.Embedding(self.num_items, 1, embeddings_initializer="zeros",
                                                   name="item_bias")
        self.text_bias = tf.keras.layers.Dense(1, name="text_bias") if self.text_dim else None
        self.user_profiles = self.profile_units = self.profile_bias = None
        if self.user_text_dim:
            self.user_profiles = self.add_weight(name="user_profiles", shape=[self.num_users, self.user_text_dim],
                                                 initializer="zeros", trainable=False, autocast=False)
            self.profile_units = tf.keras.layers.Dense(self.embedding_dim, use_bias=False,
                                                       kernel_initializer=tf.keras.initializers.RandomNormal(stddev=_INIT_STDDEV),
                                                       name="profile_units")
            self.profile_bias = tf.keras.layers.Dense(1, name="profile_bias")
        # float32 under mixed precision (autocast=False): the terms are summed in float32.
        self.offset = self.add_weight(name="offset", shape=[], initializer="zeros", trainable=False, autocast=False)
        self.scorer = None
        if self.hidden_units:
            self.scorer = tf.keras.Sequential(
                [tf.keras.layers.Dense(u, activation="relu") for u in self.hidden_units]
                + [tf.keras.layers.Dense(1)], name="scorer")
        self.task = self._task()

    def _task(self):
        if self.objective == "rating":
            return tfrs.tasks.Ranking(
                loss=tf.keras.losses.MeanSquaredError(),
                metrics=[tf.keras.metrics.RootMeanSquaredError(name="rmse"),
                         tf.keras.metrics.MeanAbsoluteError(name="mae")])
        return tfrs.tasks.Ranking(loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
                                  metrics=[tf.keras.metrics.AUC(from_logits=True, name="auc")])

    def set_training_data(self, item_counts, text_table=None, histories=None, labels=None, user_profiles=None):
        """Marks items with trained ids, fills the text table, the users' rated
        items and profiles, and sets the offset from the training labels."""
        self.item_tower.set_known_items(np.asarray(item_counts) > 0)
        if text_table is not None and self.text_dim:
            self.item_tower.set_text_table(text_table)
        if histories is not None and self.max_history:
            self.user_tower.set_history(histories)
        if user_profiles is not None and self.user_text_dim:
            self.user_profiles.assign(np.asarray(user_profiles, np.float32))
        if labels is not None and len(labels):
            mean = float(np.mean(labels))
            if self.objective == "click":
                mean = float(np.log(np.clip(mean, 1e-6, 1 - 1e-6) / (1 - np.clip(mean, 1e-6, 1 - 1e-6))))
            self.offset.assign(mean)

    def score_candidates(self, users, candidates, training=False, profiles=None):
        """Predicted rating, or click logit, of each user's candidates: `[batch, n]`.

        Args:
            users: int tensor `[batch]`; -1: a user the model does not know.
            candidates: int tensor `[batch, n]` of item indices.
            profiles: float tensor `[batch, user_text_dim]` or None: the
                users' profile embeddings; None reads the stored ones (zeros
                for index -1). Only with `user_text_dim`.
        """
        history = None
        if self.history_items is not None:
            if not self.history_items.built:
                self.history_items.build((None,))
            history = self.history_items.embeddings
        # Under a mixed-precision policy the layers compute in float16 or
        # bfloat16; the terms are summed in float32, as Keras wants a model's outputs.
        def full(tensor):
            return tf.cast(tensor, tf.float32)

        # A user index of -1 (unknown to the model) gets the item-only score.
        known = tf.cast(users >= 0, tf.float32)
        users = tf.maximum(users, 0)
        user = full(self.user_tower(users, item_vectors=history, training=training)) * known[:, None]
        user_bias = full(self.user_bias(users)) * known[:, None]
        if self.user_text_dim:
            if profiles is None:
                profiles = tf.gather(self.user_profiles, users) * known[:, None]
            user += full(self.profile_units(profiles))
            user_bias += full(self.profile_bias(profiles))
        flat = tf.reshape(candidates, [-1])
        shape = tf.shape(candidates)
        item = tf.reshape(full(self.item_tower(flat, training=training)), [shape[0], shape[1], self.embedding_dim])
        bias = full(self.item_bias(flat))[:, 0]
        if self.text_bias is not None:
            bias += full(self.text_bias(tf.gather(self.item_tower.text_table, flat)))[:, 0]
        scores = (self.offset + user_bias + tf.reshape(bias, shape)
                  + tf.einsum("bd,bnd->bn", user, item))
        if self.scorer is not None:
            user = tf.broadcast_to(user[:, None, :], tf.shape(item))
            scores += full(self.scorer(tf.concat([user, item, user * item], axis=-1))[..., 0])
        return scores

    def predict_scores(self, users, items, training=False, profiles=None):
        """Predicted rating, or click logit, per (user, item): `[batch]`."""
        return self.score_candidates(users, tf.reshape(items, [-1, 1]), training=training, profiles=profiles)[:, 0]

    def call(self, features, training=False):
        return self.predict_scores(features["user"], features["item"], training=training)

    def compute_loss(self, features, training=False):
        predictions = self.predict_scores(features["user"], features["item"], training=training)
        labels = tf.cast(features["label"], predictions.dtype)
        loss = self.task(labels=labels, predictions=predictions)
        if self.l2:
            # Every factor, bias row and kernel (not Dense biases), over the
            # whole table: one fixed penalty per step, whatever the batch holds.
            penalised = [v for v in self.trainable_variables if not v.name.endswith("bias:0")]
            loss += self.l2 * tf.add_n([tf.reduce_sum(tf.square(v)) for v in penalised])
        return loss

    def get_config(self):
        return dict(
            num_users=self.num_users, num_items=self.num_items, embedding_dim=self.embedding_dim,
            use_item_ids=self.use_item_ids, text_dim=self.text_dim, text_hidden_dim=self.text_hidden_dim,
            max_history=self.max_history, hidden_units=list(self.hidden_units), l2=self.l2,
            objective=self.objective, user_text_dim=self.user_text_dim,
        )

    @classmethod
    def from_config(cls, config):
        return cls(**config)
