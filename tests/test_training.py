"""A TFRS retrieval model trains a TextEncoder(trainable="top:1") candidate tower."""

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

QUERIES = ["running", "kitchen", "music", "garden"] * 8
ITEMS = ["red running shoe", "chef knife set", "jazz vinyl record", "garden hose"] * 8


class _Retrieval(tfrs.Model):
    def __init__(self, encoder):
        super().__init__()
        self.query_tower = tf.keras.Sequential(
            [tf.keras.layers.StringLookup(vocabulary=sorted(set(QUERIES))),
             tf.keras.layers.Embedding(5, encoder.embedding_dim)]
        )
        self.candidate_tower = encoder
        self.task = tfrs.tasks.Retrieval()

    def compute_loss(self, features, training=False):
        q = self.query_tower(features["query"])
        c = self.candidate_tower(features["item"], training=training)
        return self.task(q, c)


def test_top1_fine_tuning_updates_only_the_top_layer(tiny_encoder):
    tf.keras.utils.set_random_seed(0)
    encoder = tiny_encoder(trainable="top:1")
    model = _Retrieval(encoder)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01))
    data = tf.data.Dataset.from_tensor_slices({"query": QUERIES, "item": ITEMS}).batch(8)

    blocks = encoder._transformer_layers()
    before = {b.name: [w.numpy().copy() for w in b.weights] for b in blocks}
    emb_before = encoder.backbone.get_layer("token_embedding").weights[0].numpy().copy()

    history = model.fit(data, epochs=6, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0], losses

    top, lower = blocks[-1], blocks[0]
    assert any(
        not np.allclose(a, w.numpy()) for a, w in zip(before[top.name], top.weights)
    ), "top layer did not change"
    for a, w in zip(before[lower.name], lower.weights):
        np.testing.assert_array_equal(a, w.numpy())
    np.testing.assert_array_equal(
        emb_before, encoder.backbone.get_layer("token_embedding").weights[0].numpy()
    )
