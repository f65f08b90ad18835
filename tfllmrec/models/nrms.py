"""`NRMS`: an NRMS-style news recommender over frozen text vectors."""

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfllmrec.models.loss_scaled_train_step import LossScaledTrainStep
from tfllmrec.models.impression_loss import impression_softmax_loss


class AdditiveAttention(tf.keras.layers.Layer):
    """Pools `[batch, n, dim]` vectors with learned weights (NRMS's last step).

    weight_i = softmax_i(q . tanh(W x_i + b)); masked positions get none.

    Args:
        hidden_dim: int. Size of the attention's hidden layer.
    """

    def __init__(self, hidden_dim=200, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.projection = tf.keras.layers.Dense(self.hidden_dim, activation="tanh", name="projection")
        self.query = tf.keras.layers.Dense(1, use_bias=False, name="query")

    def call(self, vectors, mask):
        logits = tf.squeeze(self.query(self.projection(vectors)), -1)
        logits = tf.where(mask, logits, tf.cast(-1e9, logits.dtype))
        weights = tf.nn.softmax(logits, axis=-1)
        return tf.einsum("bn,bnd->bd", weights, vectors)

    def get_config(self):
        return dict(super().get_config(), hidden_dim=self.hidden_dim)


class NRMS(LossScaledTrainStep, tfrs.Model):
    """NRMS (Wu et al., EMNLP 2019) with sentence vectors instead of words.

    NRMS reads each article's words with multi-head self-attention; here
    each article is already one frozen sentence embedding (e.g. MiniLM), so
    the news encoder is a dropout + dense projection of it. The user encoder
    is NRMS's: multi-head self-attention over the user's clicked news, then
    additive attention pooling. A candidate's score is the dot product of
    the user and news vectors. Trained (by the news recipe) as NRMS is: a
    softmax over each click and negatives shown in the same impression
    (`compute_loss` of `{"user": [batch], "candidates": [batch, c]}`, the
    click first and -1 padding, as `TwoTowerRetrieval` takes them).

    Users and items are integer indices; the text vectors and the histories
    are tables filled once by `set_data` (non-trainable, checkpointed).

    Args:
        num_users: int.
        num_items: int.
        text_dim: int. Size of the frozen text vectors.
        news_dim: int. Size of the news and user vectors.
        num_heads: int. Self-attention heads (news_dim must divide by it).
        attention_hidden_dim: int. Hidden size of the additive attention.
        dropout: float. Dropout on the text vectors and the attention output.
        max_history: int. Clicked news kept per user (most recent).

    Example:
    >>> model = NRMS(num_users=2, num_items=5, text_dim=8, news_dim=16, num_heads=4)
    >>> model.set_data(np.ones((5, 8), "float32"), [[0, 1], [2]])
    >>> model({"user": tf.constant([0, 1]), "items": tf.constant([[3, 4], [0, 1]])}).shape
    TensorShape([2, 2])
    """

    def __init__(self, num_users, num_items, text_dim, news_dim=128, num_heads=8,
                 attention_hidden_dim=128, dropout=0.2, max_history=50, **kwargs):
        super().__init__(**kwargs)
        if news_dim % num_heads:
            raise ValueError(f"news_dim={news_dim} must be a multiple of num_heads={num_heads}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError("dropout must be in [0, 1).")
        if max_history < 1:
            raise ValueError("max_history must be >= 1.")
        self.num_users, self.num_items, self.text_dim = int(num_users), int(num_items), int(text_dim)
        self.news_dim, self.num_heads = int(news_dim), int(num_heads)
        self.attention_hidden_dim, self.dropout = int(attention_hidden_dim), float(dropout)
        self.max_history = int(max_history)
        self.text_table = self.add_weight(name="text_table", shape=[self.num_items, self.text_dim],
                                          trainable=False, initializer="zeros")
        # Not `self.history`: Keras' fit() sets that attribute to its History callback.
        self.histories = self.add_weight(name="history", shape=[self.num_users, self.max_history],
                                       dtype=tf.int32, trainable=False,
                                       initializer=tf.keras.initializers.Constant(-1))
        self.text_dropout = tf.keras.layers.Dropout(self.dropout)
        self.news_projection = tf.keras.layers.Dense(self.news_dim, name="news_projection")
        self.self_attention = tf.keras.layers.MultiHeadAttention(
            self.num_heads, self.news_dim // self.num_heads, name="self_attention")
        self.attention_dropout = tf.keras.layers.Dropout(self.dropout)
        self.pooling = AdditiveAttention(self.attention_hidden_dim, name="additive_attention")

    def set_data(self, text_table, histories):
        """Fills the text table `[num_items, text_dim]` and each user's clicked news."""
        text_table = np.asarray(text_table, np.float32)
        if text_table.shape != (self.num_items, self.text_dim):
            raise ValueError(f"text table must be {(self.num_items, self.text_dim)}, got {text_table.shape}.")
        self.text_table.assign(text_table)
        table = np.full((self.num_users, self.max_history), -1, np.int32)
        for user, items in enumerate(histories):
            items = list(items)[-self.max_history:]
            table[user, :len(items)] = items
        self.histories.assign(table)

    # Self-attention over every user's history is the memory peak of scoring.
    query_batch_size = 1024

    def candidates(self, items=None, training=False):
        """News vectors `[..., news_dim]` of `items` (all items when None): the news encoder."""
        items = tf.range(self.num_items) if items is None else items
        text = tf.gather(self.text_table, tf.maximum(items, 0))
        return self.news_projection(self.text_dropout(text, training=training))

    def query(self, users, training=False):
        """User vectors `[batch, news_dim]`, zero for a user without history: the user encoder."""
        history = tf.gather(self.histories, users)
        mask = history >= 0
        clicked = self.candidates(history, training=training)
        pair_mask = mask[:, :, None] & mask[:, None, :]
        attended = self.self_attention(clicked, clicked, attention_mask=pair_mask, training=training)
        attended = self.attention_dropout(attended, training=training)
        pooled = self.pooling(attended, mask)
        has_history = tf.reduce_any(mask, axis=1, keepdims=True)
        return pooled * tf.cast(has_history, pooled.dtype)

    def call(self, inputs, training=False):
        """Scores `[batch, candidates]` of `{"user": [batch], "items": [batch, candidates]}`."""
        users = self.query(inputs["user"], training=training)
        news = self.candidates(inputs["items"], training=training)
        return tf.einsum("bd,bcd->bc", users, news)

    def compute_loss(self, features, training=False):
        candidates = features["candidates"]
        logits = self({"user": features["user"], "items": tf.maximum(candidates, 0)}, training=training)
        return impression_softmax_loss(logits, candidates)

    def offsets(self):
        """No per-item score offsets (the protocol `TwoTowerRetrieval.offsets` follows)."""
        return None

    def get_config(self):
        return dict(num_users=self.num_users, num_items=self.num_items, text_dim=self.text_dim,
                    news_dim=self.news_dim, num_heads=self.num_heads,
                    attention_hidden_dim=self.attention_hidden_dim, dropout=self.dropout,
                    max_history=self.max_history)

    @classmethod
    def from_config(cls, config):
        return cls(**config)
