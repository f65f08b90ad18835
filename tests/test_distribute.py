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


def test_recipe_training_under_mirrored_strategy_matches_one_device(tmp_path):
    from conftest import tiny_recipe_overrides, write_tiny_dataset
    from tfllmrec.recipes import get_recipe, with_overrides
    from tfllmrec.recipes.pipeline import train_recipe
    from tfllmrec.training.distribution import make_strategy

    assert make_strategy("mirrored").num_replicas_in_sync == 2  # conftest's two logical CPUs
    write_tiny_dataset(tmp_path)
    overrides = tiny_recipe_overrides(tmp_path, epochs=3) + [
        "eval.baselines=[]", "data.cold_start_fraction=0", "train.patience=0",
        "model.id_dropout=0",  # per-replica dropout streams would differ by design
    ]
    one = train_recipe(with_overrides(get_recipe("video"), overrides), tmp_path / "one", verbose=0)
    two = train_recipe(with_overrides(get_recipe("video"), overrides + ["train.strategy=mirrored"]),
                       tmp_path / "two", verbose=0)
    # The full-softmax loss sums over the global batch, so two replicas
    # summing half-batches follow the single-device curve.
    np.testing.assert_allclose(two["training"]["loss_history"], one["training"]["loss_history"], rtol=1e-4)
    assert abs(two["test"]["ndcg@10"] - one["test"]["ndcg@10"]) < 1e-3


def test_news_training_under_mirrored_strategy_matches_one_device(tmp_path):
    """The impression loss averages over the global batch, whose halves may differ by one example."""
    from test_impression_run import overrides as news_overrides
    from test_impression_run import write_tiny_news
    from tfllmrec.recipes import get_recipe, with_overrides
    from tfllmrec.recipes.pipeline import train_recipe

    folder = write_tiny_news(tmp_path / "nemig" / "en")
    # 132 training clicks in batches of 27 and 26: every batch splits unevenly or evenly across two CPUs.
    overrides = news_overrides(folder, epochs=3) + ["eval.baselines=[]", "train.patience=0", "train.batch_size=27"]
    one = train_recipe(with_overrides(get_recipe("news"), overrides), tmp_path / "one", verbose=0)
    two = train_recipe(with_overrides(get_recipe("news"), overrides + ["train.strategy=mirrored"]),
                       tmp_path / "two", verbose=0)
    np.testing.assert_allclose(two["training"]["loss_history"], one["training"]["loss_history"], rtol=1e-4)
    assert two["training"]["loss_history"][-1] < two["training"]["loss_history"][0]
    assert abs(two["test"]["auc"] - one["test"]["auc"]) < 1e-3
