"""`SequenceQueryTower`: a causal transformer over the user's recent items (SASRec)."""

import tensorflow as tf

from tfllmrec.encoders.keras3_bridge import Keras3BridgeMixin
from tfllmrec.ranges import Range

_POSITIVE = Range(int, 1, example=64)
_DROPOUT = Range(float, 0, 1, high_open=True, example=0.1)


class SequenceQueryTower(Keras3BridgeMixin, tf.keras.layers.Layer):
    """The query tower of a sequential recommender: a query after every item of a history.

    Reads the vectors of a user's last `n` items (oldest first, most recent
    last; the caller's item tower makes them) and returns, at every
    position, a query for the item that comes next, as SASRec trains: the
    item at `t + 1` is the target of position `t`. Each position sees its
    own item and the earlier ones only (causal attention), and never a
    padded one. Serving reads the query after the most recent item
    (`last`).

    Learned position embeddings count back from the most recent real item
    (0: the latest), so a history keeps its positions whatever padding
    surrounds it: shorter histories use the first positions, as the
    long ones' latest items do. The transformer blocks are keras-hub's
    (Keras 3) `TransformerEncoder`s with pre-layer-norm, bridged so that
    tf-keras optimizers train them and checkpoints store them once.

    Args:
        input_dim: int. Size of the item vectors; the transformer's width.
        max_length: int. Longest history (positions with an embedding).
        output_dim: int or None. Size of the queries (a linear projection).
            None: `input_dim`.
        num_layers: int. Transformer blocks.
        num_heads: int. Attention heads; must divide `input_dim`.
        intermediate_dim: int or None. Hidden units of each block's
            feed-forward part. None: `4 * input_dim`.
        dropout: float. Dropout on the inputs and inside the blocks in
            training.
        normalize: bool. L2-normalise the queries.
        **kwargs: tf-keras `Layer` arguments (`name`, `dtype`, ...). The
            blocks follow the layer's dtype policy (e.g. mixed_bfloat16).

    Example:
    >>> tower = SequenceQueryTower(input_dim=8, max_length=5, output_dim=4)
    >>> items = tf.random.normal([2, 5, 8])
    >>> mask = tf.constant([[False, False, True, True, True], [True] * 5])
    >>> tower(items, mask).shape
    TensorShape([2, 5, 4])
    >>> tower.last(items, mask).shape
    TensorShape([2, 4])
    """

    def __init__(
        self, input_dim, max_length=50, output_dim=None, num_layers=2, num_heads=1,
        intermediate_dim=None, dropout=0.1, normalize=True, **kwargs
    ):
        super().__init__(**kwargs)
        self.input_dim = int(_POSITIVE.check(input_dim, "input_dim"))
        self.max_length = int(_POSITIVE.check(max_length, "max_length"))
        self.output_dim = int(_POSITIVE.check(input_dim if output_dim is None else output_dim, "output_dim"))
        self.num_layers = int(_POSITIVE.check(num_layers, "num_layers"))
        self.num_heads = int(_POSITIVE.check(num_heads, "num_heads"))
        hidden = 4 * self.input_dim if intermediate_dim is None else intermediate_dim
        self.intermediate_dim = int(_POSITIVE.check(hidden, "intermediate_dim"))
        self.dropout = float(_DROPOUT.check(dropout, "dropout"))
        self.normalize = bool(normalize)
        if self.input_dim % self.num_heads:
            raise ValueError(
                f"num_heads={self.num_heads} does not divide input_dim={self.input_dim}: each head "
                "attends over an equal slice of the item vector. Pick a divisor of input_dim."
            )
        self.positions = self.add_weight(
            name="positions", shape=[self.max_length, self.input_dim],
            initializer=tf.keras.initializers.RandomNormal(stddev=0.02),
        )
        self.input_dropout = tf.keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name="input_dropout")
        self.blocks = [self._block(i) for i in range(self.num_layers)]
        # Pre-layer-norm blocks leave their output unnormalised: one norm after the last.
        self.final_norm = tf.keras.layers.LayerNormalization(dtype=self.dtype_policy, name="final_norm")
        self.final_norm.build([None, None, self.input_dim])
        self.projection = tf.keras.layers.Dense(self.output_dim, dtype=self.dtype_policy, name="projection")
        self.projection.build([None, None, self.input_dim])

    def _block(self, index):
        import keras_hub  # Keras 3: loaded only when a tower is built

        block = keras_hub.layers.TransformerEncoder(
            intermediate_dim=self.intermediate_dim, num_heads=self.num_heads, dropout=self.dropout,
            activation="relu", normalize_first=True, dtype=self.dtype_policy.name,
            name=f"transformer_block_{index}",
        )
        # Built now: the variables exist for checkpoints and optimizers before the first call.
        block.build((None, None, self.input_dim))
        return block

    def _keras3_layers(self):
        return list(self.blocks)

    def call(self, item_vectors, mask, user_vectors=None, time_vectors=None, training=None):
        """Queries `[batch, n, output_dim]` (float32), zero at padded positions.

        Args:
            item_vectors: float tensor `[batch, n, input_dim]`, oldest first.
            mask: bool tensor `[batch, n]`; False marks padding, anywhere.
            user_vectors: float tensor `[batch, input_dim]` or None. Added
                to every position's input (e.g. a user-id embedding).
            time_vectors: float tensor `[batch, n, output_dim]` or None.
                Added to each position's query before it is normalised: the
                time of the request it answers (the next item's), as a
                two-tower query adds its period vector. Only the query reads
                it, so a history needs no timestamps at serving time.
            training: bool. Dropout on.
        """
        mask = tf.cast(mask, tf.bool)
        self._check_length(item_vectors)
        dtype = self.compute_dtype
        # tf.where, not a product: NaN or inf in padding must not leak in.
        inputs = tf.where(mask[:, :, None], tf.cast(item_vectors, dtype), tf.zeros([], dtype))
        if user_vectors is not None:
            inputs = inputs + tf.cast(user_vectors, dtype)[:, None, :]
        inputs = inputs + tf.cast(tf.gather(self.positions, self._position_ids(mask)), dtype)
        x = self.input_dropout(inputs, training=training)
        attention_mask = self._attention_mask(mask)
        for block in self.blocks:
            x = block(x, attention_mask=attention_mask, training=training)
        queries = tf.cast(self.projection(self.final_norm(x)), tf.float32)
        if time_vectors is not None:
            queries = queries + tf.cast(time_vectors, tf.float32)
        queries = tf.where(mask[:, :, None], queries, tf.zeros([], tf.float32))
        # l2_normalize maps a zero row to zeros: a fully padded row stays finite.
        return tf.math.l2_normalize(queries, axis=-1) if self.normalize else queries

    def last(self, item_vectors, mask, user_vectors=None, time_vectors=None, training=False):
        """The query after the most recent real item, `[batch, output_dim]` (serving).

        `time_vectors` `[batch, output_dim]`: the request's time. A row
        without any real item gets zeros.
        """
        if time_vectors is not None:
            time_vectors = tf.broadcast_to(tf.cast(time_vectors, tf.float32)[:, None, :],
                                           tf.concat([tf.shape(mask), [self.output_dim]], 0))
        queries = self(item_vectors, mask, user_vectors=user_vectors, time_vectors=time_vectors, training=training)
        real = tf.cast(tf.cast(mask, tf.bool), tf.int32)
        length = tf.shape(real)[1]
        # argmax of the reversed mask finds the last True; a row of False reads index n - 1, a padded zero row.
        newest = length - 1 - tf.argmax(tf.reverse(real, [1]), axis=1, output_type=tf.int32)
        return tf.gather(queries, newest, batch_dims=1)

    def _check_length(self, item_vectors):
        length = item_vectors.shape[1]
        if length is not None and length > self.max_length:
            raise ValueError(
                f"{self.name}: the history has {length} positions but max_length={self.max_length}. "
                f"Keep the last {self.max_length} items or build the tower with max_length >= {length}."
            )

    def _position_ids(self, mask):
        """Real items after each position (0: the most recent), capped at max_length - 1."""
        after = tf.cumsum(tf.cast(mask, tf.int32), axis=1, exclusive=True, reverse=True)
        return tf.minimum(after, self.max_length - 1)

    @staticmethod
    def _attention_mask(mask):
        """`[batch, n, n]`: a query sees its own and earlier real items.

        Each position also sees itself, so a padded query (one with no real
        item at or before it) has a key and its softmax stays finite; real
        queries never see padded keys, so padding changes no real output.
        """
        length = tf.shape(mask)[1]
        steps = tf.range(length)
        earlier = steps[:, None] >= steps[None, :]
        itself = steps[:, None] == steps[None, :]
        return (earlier[None] & mask[:, None, :]) | itself[None]

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape[:2]).concatenate([self.output_dim])

    def get_config(self):
        config = super().get_config()
        config.update(
            input_dim=self.input_dim,
            max_length=self.max_length,
            output_dim=self.output_dim,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            intermediate_dim=self.intermediate_dim,
            dropout=self.dropout,
            normalize=self.normalize,
        )
        return config
