"""`UserTower`: user-id embedding plus a pooled summary of the user's history."""

import numpy as np
import tensorflow as tf

from tfllmrec.model_rules import check_user_tower


class UserTower(tf.keras.layers.Layer):
    """The query tower: `normalize(user_embedding + mean(history item vectors) + period_embedding)`.

    The history is a fixed `[num_users, max_history]` table of item indices
    (padding -1) that the trainer fills from the training split
    (`set_history`). The item vectors pooled over it come from the caller
    (the model passes its item tower's vectors), so the user lives in the
    item space and a user with no trained id still gets a profile.

    With `num_periods`, a learned vector per time period (e.g. two months)
    is added: what people bought in that period. Training passes each
    interaction's own period; scoring uses a stored period per user
    (`set_periods`): the period of the request being answered (the
    evaluated interaction's, or the present when serving), so the serving
    signature stays users-only.

    Args:
        num_users: int. Number of users (rows of the id embedding).
        embedding_dim: int. Output size.
        use_user_ids: bool. Include the user-id embedding.
        max_history: int. History items kept per user (most recent); 0
            disables history pooling.
        normalize: bool. L2-normalise the output.
        num_periods: int. Time periods of the period embedding; 0 disables it.
        init_stddev: float. Standard deviation of the initial id vectors.
        history_norm: str. How the pooled history is scaled: "mean" (divided
            by its length) or "sqrt" (by the square root of its length, as
            SVD++'s implicit term: a long history weighs more).

    Example:
    >>> tower = UserTower(num_users=2, embedding_dim=4, max_history=3)
    >>> tower.set_history([[0, 1], [2]])
    >>> tower(tf.constant([0, 1]), item_vectors=tf.ones([3, 4])).shape
    TensorShape([2, 4])
    """

    def __init__(
        self, num_users, embedding_dim=64, use_user_ids=True, max_history=0, normalize=True,
        num_periods=0, init_stddev=0.1, history_norm="mean", **kwargs
    ):
        super().__init__(**kwargs)
        check_user_tower(use_user_ids, max_history)
        self.num_users = int(num_users)
        self.embedding_dim = int(embedding_dim)
        self.use_user_ids = bool(use_user_ids)
        self.max_history = int(max_history)
        self.normalize = bool(normalize)
        self.num_periods = int(num_periods)
        self.init_stddev = float(init_stddev)
        if history_norm not in ("mean", "sqrt"):
            raise ValueError(f"history_norm={history_norm!r}: use 'mean' or 'sqrt'.")
        self.history_norm = history_norm
        self.ids = None
        if self.use_user_ids:
            self.ids = tf.keras.layers.Embedding(
                self.num_users, self.embedding_dim,
                embeddings_initializer=tf.keras.initializers.RandomNormal(stddev=self.init_stddev),
                name="user_ids",
            )
        if self.max_history:
            self.history = self.add_weight(
                name="history", shape=[self.num_users, self.max_history], dtype=tf.int32,
                trainable=False, initializer=tf.keras.initializers.Constant(-1),
            )
        if self.num_periods:
            self.periods = tf.keras.layers.Embedding(
                self.num_periods, self.embedding_dim,
                embeddings_initializer=tf.keras.initializers.RandomNormal(stddev=0.1),
                name="periods",
            )
            self.user_period = self.add_weight(
                name="user_period", shape=[self.num_users], dtype=tf.int32,
                trainable=False, initializer=tf.keras.initializers.Constant(-1),
            )

    def set_periods(self, periods):
        """Stores each user's request period (-1: none, no period term)."""
        if not self.num_periods:
            raise ValueError("This tower has no time periods (num_periods=0); build it with num_periods > 0.")
        periods = np.asarray(periods, np.int64)
        if (periods.shape != (self.num_users,) or periods.max(initial=-1) >= self.num_periods
                or periods.min(initial=-1) < -1):
            raise ValueError(f"set_periods needs {self.num_users} periods from -1 to {self.num_periods - 1}; "
                             f"got shape {periods.shape}, range {periods.min(initial=-1)}..{periods.max(initial=-1)}.")
        self.user_period.assign(periods.astype(np.int32))

    def set_history(self, histories):
        """Stores each user's item indices (oldest first; the last kept)."""
        table = np.full((self.num_users, self.max_history), -1, np.int32)
        for user, items in enumerate(histories):
            items = list(items)[-self.max_history :]
            table[user, : len(items)] = items
        self.history.assign(table)

    def call(self, users, item_vectors=None, exclude_items=None, periods=None, training=False):
        """User vectors `[batch, embedding_dim]`.

        Args:
            users: int tensor `[batch]`.
            item_vectors: float tensor `[num_items, embedding_dim]` to pool
                the history over; required when `max_history > 0`.
            exclude_items: int tensor `[batch]` or None. An item to leave out
                of each user's history (the training target, so the model
                cannot just look it up).
            periods: int tensor `[batch]` or None. Each row's time period
                (-1: none); None: the stored serving periods (`set_periods`).
        """
        vectors = 0.0
        if self.use_user_ids:
            vectors = vectors + self.ids(users)
        if self.max_history:
            history = tf.gather(self.history, users)
            mask = history >= 0
            if exclude_items is not None:
                mask &= history != tf.cast(exclude_items, tf.int32)[:, None]
            pooled_items = tf.cast(tf.gather(item_vectors, tf.maximum(history, 0)), self.compute_dtype)
            weights = tf.cast(mask, pooled_items.dtype)[:, :, None]
            count = tf.maximum(tf.reduce_sum(weights, 1), 1.0)
            if self.history_norm == "sqrt":
                count = tf.sqrt(count)
            vectors = vectors + tf.reduce_sum(pooled_items * weights, 1) / count
        if self.num_periods:
            if periods is None:
                periods = tf.gather(self.user_period, users)
            periods = tf.cast(periods, tf.int32)
            known = tf.cast(periods >= 0, self.compute_dtype)[:, None]
            vectors = vectors + self.periods(tf.maximum(periods, 0)) * known
        vectors = tf.cast(vectors, tf.float32)
        return tf.math.l2_normalize(vectors, -1) if self.normalize else vectors

    def get_config(self):
        config = super().get_config()
        config.update(
            num_users=self.num_users,
            embedding_dim=self.embedding_dim,
            use_user_ids=self.use_user_ids,
            max_history=self.max_history,
            normalize=self.normalize,
            num_periods=self.num_periods,
            init_stddev=self.init_stddev,
            history_norm=self.history_norm,
        )
        return config
