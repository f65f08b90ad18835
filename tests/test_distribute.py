"""TextEncoder under tf.distribute.MirroredStrategy on two logical CPUs."""

import numpy as np
import tensorflow as tf


def test_mirrored_strategy_mirrors_bert_and_trains(tiny_encoder):
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    assert len(devices) == 2, "conftest configures two logical CPUs"
    strategy = tf.distribute.MirroredStrategy(devices)
    texts = ["red running shoe", "chef knife", "jazz record", "garden hose"] * 4
    labels = np.arange(16, dtype="float32") % 2
    with strategy.scope():
        enc = tiny_encoder(trainable="top:1")
        inputs = tf.keras.Input(shape=(), dtype=tf.string)
        model = tf.keras.Model(inputs, tf.keras.layers.Dense(1)(enc(inputs)))
        model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="mse")
    assert all(isinstance(v, tf.distribute.DistributedValues) for v in enc.trainable_weights)
    top = enc._transformer_layers()[-1].weights[0]
    before = top.numpy().copy()
    data = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(8)
    history = model.fit(data, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert not np.allclose(before, top.numpy())
    # Replicas stay in sync: the encoder gives one answer per text.
    single = enc(tf.constant(texts[:4])).numpy()
    dist = strategy.run(lambda x: enc(x), args=(tf.constant(texts[:4]),))
    for replica in strategy.experimental_local_results(dist):
        np.testing.assert_allclose(replica.numpy(), single, atol=1e-5)
