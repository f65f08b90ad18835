"""`RerankerHead`: one more scorer of a `CandidateReranker`'s standardised features."""

import tensorflow as tf
import tensorflow_recommenders as tfrs


def scorer_layers(cross_layers, hidden_units):
    """(DCN cross layers, the linear term, the MLP or None) of one scorer."""
    cross = [tfrs.layers.dcn.Cross(name=f"cross_{i}") for i in range(int(cross_layers))]
    mlp = None
    if hidden_units:
        mlp = tf.keras.Sequential([tf.keras.layers.Dense(int(u), activation="relu") for u in hidden_units]
                                  + [tf.keras.layers.Dense(1)], name="mlp")
    return cross, tf.keras.layers.Dense(1, name="linear"), mlp


def head_scores(head, inputs, training=False):
    """`[batch, n]` scores of one scorer (anything with `cross`, `linear` and
    `mlp`, as `scorer_layers` makes them) on standardised features `[batch, n, f]`."""
    crossed = inputs
    for layer in head.cross:
        crossed = layer(inputs, crossed)
    scores = head.linear(crossed)
    if head.mlp is not None:
        scores += head.mlp(crossed, training=training)
    return scores[..., 0]


class RerankerHead(tf.keras.layers.Layer):
    """A scorer beside a `CandidateReranker`'s own, for its `heads` > 1: the
    same linear term, MLP and cross layers, with weights of its own.

    Example:
    >>> head = RerankerHead(hidden_units=(4,))
    >>> head(tf.zeros([2, 3, 5])).shape
    TensorShape([2, 3])
    """

    def __init__(self, cross_layers=0, hidden_units=(), **kwargs):
        super().__init__(**kwargs)
        self.cross_layers, self.hidden_units = int(cross_layers), tuple(int(u) for u in hidden_units)
        self.cross, self.linear, self.mlp = scorer_layers(self.cross_layers, self.hidden_units)

    def call(self, inputs, training=False):
        return head_scores(self, inputs, training)

    def get_config(self):
        return dict(super().get_config(), cross_layers=self.cross_layers, hidden_units=list(self.hidden_units))
