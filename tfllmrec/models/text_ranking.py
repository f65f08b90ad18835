"""`TextRanking`: scores (user, item) pairs from the towers plus an MLP."""

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfllmrec.towers import ItemTower, UserTower

_OBJECTIVES = ("rating", "click")


class TextRanking(tfrs.Model):
    """Ranking model: an MLP over user and item tower vectors.

    `objective="rating"` regresses ratings (MSE; RMSE and MAE metrics);
    `objective="click"` predicts clicks (binary cross-entropy on logits; AUC).
    Features: `{"user": int [batch], "item": int [batch], "label": float [batch]}`.

    Args:
        num_users: int. Number of users.
        num_items: int. Number of items.
        embedding_dim: int. Tower output size.
        use_item_ids: bool. Item-id embedding.
        text_dim: int or None. Size of item text embeddings; None: ids only.
        text_hidden_dim: int. Hidden units of the text MLP.
        id_dropout: float. Item-id dropout in training.
        hidden_units: tuple of int. The scoring MLP's hidden layers.
        objective: str. "rating" or "click".

    Example:
    >>> model = TextRanking(num_users=5, num_items=7, objective="click")
    >>> model.compile(optimizer=tf.keras.optimizers.Adam(1e-2))
    >>> model.predict_scores(tf.constant([0]), tf.constant([3])).shape
    TensorShape([1])
    """

    def __init__(
        self,
        num_users,
        num_items,
        embedding_dim=32,
        use_item_ids=True,
        text_dim=None,
        text_hidden_dim=128,
        id_dropout=0.0,
        hidden_units=(64, 32),
        objective="rating",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if objective not in _OBJECTIVES:
            raise ValueError(f"objective={objective!r}: use one of {_OBJECTIVES}.")
        self.num_users = int(num_users)
        self.num_items = int(num_items)
        self.embedding_dim = int(embedding_dim)
        self.use_item_ids = bool(use_item_ids)
        self.text_dim = None if not text_dim else int(text_dim)
        self.text_hidden_dim = int(text_hidden_dim)
        self.id_dropout = float(id_dropout)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.objective = objective
        self.user_tower = UserTower(
            self.num_users, self.embedding_dim, use_user_ids=True, normalize=False, name="user_tower"
        )
        self.item_tower = ItemTower(
            self.num_items, self.embedding_dim, use_item_ids=self.use_item_ids,
            text_dim=self.text_dim, text_hidden_dim=self.text_hidden_dim,
            id_dropout=self.id_dropout, normalize=False, name="item_tower",
        )
        self.scorer = tf.keras.Sequential(
            [tf.keras.layers.Dense(u, activation="relu") for u in self.hidden_units]
            + [tf.keras.layers.Dense(1)],
            name="scorer",
        )
        if objective == "rating":
            self.task = tfrs.tasks.Ranking(
                loss=tf.keras.losses.MeanSquaredError(),
                metrics=[tf.keras.metrics.RootMeanSquaredError(name="rmse"),
                         tf.keras.metrics.MeanAbsoluteError(name="mae")],
            )
        else:
            self.task = tfrs.tasks.Ranking(
                loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
                metrics=[tf.keras.metrics.AUC(from_logits=True, name="auc")],
            )

    def set_training_data(self, item_counts, text_table=None):
        """Marks items with trained ids and fills the text table."""
        self.item_tower.set_known_items(np.asarray(item_counts) > 0)
        if text_table is not None and self.text_dim:
            self.item_tower.set_text_table(text_table)

    def predict_scores(self, users, items, training=False):
        """Predicted rating, or click logit, per (user, item): `[batch]`."""
        u = self.user_tower(users, training=training)
        i = self.item_tower(items, training=training)
        return tf.squeeze(self.scorer(tf.concat([u, i, u * i], axis=-1)), -1)

    def call(self, features, training=False):
        return self.predict_scores(features["user"], features["item"], training=training)

    def compute_loss(self, features, training=False):
        predictions = self.predict_scores(features["user"], features["item"], training=training)
        labels = tf.cast(features["label"], predictions.dtype)
        return self.task(labels=labels, predictions=predictions)

    def get_config(self):
        return dict(
            num_users=self.num_users, num_items=self.num_items,
            embedding_dim=self.embedding_dim,
            use_item_ids=self.use_item_ids, text_dim=self.text_dim,
            text_hidden_dim=self.text_hidden_dim, id_dropout=self.id_dropout,
            hidden_units=list(self.hidden_units), objective=self.objective,
        )

    @classmethod
    def from_config(cls, config):
        return cls(**config)
