"""`model.trainable` "top:N" / "all": the item-text encoder fine-tunes inside `TwoTowerRetrieval`.

Tiny random BERT, 30 items. What must hold: the live path starts exactly
where the frozen table is, the encoder's own optimizer moves only the
layers the mode names, the text table follows the encoder, checkpoints
restore it, and a step embeds at most `fine_tune_items` items.
"""

import numpy as np
import pytest
import tensorflow as tf

from tfllmrec.encoders import TextEncoder
from tfllmrec.models import TwoTowerRetrieval
from tfllmrec.recipes.model_config import ModelConfig
from tfllmrec.recipes.train_config import TrainConfig
from tfllmrec.training import train_model
from tfllmrec.training.encoder_optimizer import LinearWarmUp, make_encoder_optimizer

TEXTS = [f"item {i} about {('cats', 'dogs', 'jazz')[i % 3]} and {('red', 'blue')[i % 2]} things"
         for i in range(30)]
USERS = np.random.default_rng(0).integers(0, 5, 240).astype("int32")
ITEMS = ((USERS * 6 + np.random.default_rng(1).integers(0, 6, 240)) % 30).astype("int32")
SAMPLE = {"user": tf.constant([0]), "item": tf.constant([0])}


@pytest.fixture(scope="module")
def frozen_table():
    return TextEncoder.from_preset("tiny-random", sequence_length=32).encode(TEXTS)


def _model(table, mode="top:1", **options):
    options = dict(dict(embedding_dim=8, text_hidden_dim=8, history_pooling="shared", max_history=4,
                        text_loss_weight=1.0, fine_tune_items=0), **options)
    tf.keras.utils.set_random_seed(0)  # as `training_scope` seeds a recipe's model
    model = TwoTowerRetrieval(num_users=5, num_items=30, text_dim=table.shape[1], encoder="tiny-random",
                              sequence_length=32, trainable=mode, **options)
    model.set_training_data(np.ones(30), [[1, 2], [3], [4, 5], [6], [7]], table)
    model.set_text_inputs(*model.live_text.inputs_of(TEXTS))
    return model


def _train(model, workdir, epochs=2, **train):
    train = TrainConfig(**dict(dict(epochs=epochs, batch_size=48, encoder_learning_rate=1e-3,
                                    encoder_warmup_steps=2, encoder_refresh_steps=3), **train))
    data = tf.data.Dataset.from_tensor_slices({"user": USERS, "item": ITEMS}).batch(train.batch_size)
    return train_model(model, lambda epoch: data, SAMPLE, train, lambda: {"score": 1.0}, "score",
                       workdir, verbose=0)


@pytest.mark.parametrize("mode", ["top:1", "all"])
def test_the_live_path_starts_at_the_frozen_table(frozen_table, mode):
    live = _model(frozen_table, mode).live_text.embed_all()
    np.testing.assert_allclose(live, frozen_table, atol=2e-6)


def test_top1_trains_the_top_layer_only_and_the_table_follows(frozen_table, tmp_path):
    model = _model(frozen_table)
    blocks = model.text_encoder._transformer_layers()
    before = [[w.numpy().copy() for w in block.weights] for block in blocks]
    fit = _train(model, tmp_path)
    assert fit["loss_history"][-1] < fit["loss_history"][0]
    lower, top = ([w.numpy() for w in block.weights] for block in (blocks[0], blocks[-1]))
    for old, new in zip(before[0], lower):
        np.testing.assert_array_equal(old, new)
    assert any(not np.allclose(old, new) for old, new in zip(before[-1], top))
    # Refreshed after the last step: the table is the trained encoder's, and moved.
    table = model.item_tower.text_table.numpy()
    np.testing.assert_allclose(table, model.live_text.embed_all(), atol=1e-6)
    np.testing.assert_allclose(table, model.text_encoder.encode(TEXTS), atol=1e-5)
    assert np.abs(table - frozen_table).max() > 1e-3


def test_the_encoder_has_its_own_optimizer_with_a_warm_up(frozen_table, tmp_path):
    model = _model(frozen_table)
    _train(model, tmp_path, epochs=1, encoder_learning_rate=2e-4, encoder_warmup_steps=10)
    steps = -(-len(USERS) // 48)
    assert int(model.encoder_optimizer.iterations) == int(model.optimizer.iterations) == steps
    # The towers' optimizer holds no slot of BERT's variables, the encoder's no slot of the towers'.
    encoder = {v.ref() for v in model.encoder_variables()}
    assert len(model.encoder_optimizer.variables) == 1 + 2 * len(encoder)
    towers = [v for v in model.trainable_variables if v.ref() not in encoder]
    assert len(model.optimizer.variables) == 1 + 2 * len(towers)
    schedule = model.encoder_optimizer._learning_rate
    assert isinstance(schedule, LinearWarmUp)
    assert float(schedule(0)) == pytest.approx(2e-5) and float(schedule(50)) == pytest.approx(2e-4)


def test_a_delayed_encoder_stays_frozen_while_the_towers_train(frozen_table, tmp_path):
    model = _model(frozen_table)
    model.score(tf.constant([0]))  # builds the towers
    encoder_before = [v.numpy().copy() for v in model.encoder_variables()]
    towers_before = [v.numpy().copy() for v in model.item_tower.trainable_weights]
    steps = -(-len(USERS) // 48)
    _train(model, tmp_path, epochs=1, encoder_delay_steps=steps, encoder_warmup_steps=2)
    # Weight decay too is scaled by the rate, so not one encoder weight moved; the towers did.
    for old, new in zip(encoder_before, model.encoder_variables()):
        np.testing.assert_array_equal(old, new.numpy())
    assert any(not np.allclose(old, new.numpy()) for old, new in zip(towers_before, model.item_tower.trainable_weights))
    schedule = model.encoder_optimizer._learning_rate
    assert [float(schedule(s)) for s in (0, steps - 1)] == [0.0, 0.0]
    assert float(schedule(steps)) == pytest.approx(5e-4) and float(schedule(steps + 5)) == pytest.approx(1e-3)
    _train(model, tmp_path / "more", epochs=1, encoder_delay_steps=0)
    assert any(not np.allclose(old, new.numpy()) for old, new in zip(encoder_before, model.encoder_variables()))


def test_weight_decay_spares_biases_and_layer_norms():
    optimizer = make_encoder_optimizer(TrainConfig())
    kernel, bias, gamma = (tf.Variable(tf.ones([2]), name=n) for n in ("kernel", "bias", "gamma"))
    optimizer.build([kernel, bias, gamma])
    assert optimizer._use_weight_decay(kernel)
    assert not optimizer._use_weight_decay(bias) and not optimizer._use_weight_decay(gamma)


def test_checkpoints_restore_the_fine_tuned_encoder(frozen_table, tmp_path):
    model = _model(frozen_table)
    _train(model, tmp_path)
    twin = _model(frozen_table)
    twin.score(tf.constant([0]))
    twin.load_weights(str(tmp_path / "best")).expect_partial()
    users = tf.constant([0, 1, 2])
    np.testing.assert_array_equal(twin.score(users).numpy(), model.score(users).numpy())
    texts = tf.constant(["a new item about jazz"])
    np.testing.assert_array_equal(twin.text_encoder(texts).numpy(), model.text_encoder(texts).numpy())
    fresh = TextEncoder.from_preset("tiny-random", sequence_length=32)
    assert not np.allclose(fresh(texts).numpy(), twin.text_encoder(texts).numpy(), atol=1e-4)


@pytest.mark.parametrize("cap", [0, 4])
def test_a_step_embeds_at_most_fine_tune_items(frozen_table, cap, monkeypatch):
    model = _model(frozen_table, fine_tune_items=cap)
    drawn = []
    embed = model.live_text.call
    monkeypatch.setattr(model.live_text, "call", lambda rows, **kw: drawn.append(rows.numpy()) or embed(rows, **kw))
    items = tf.constant(np.r_[np.arange(30), np.arange(10)], tf.int32)
    with tf.GradientTape() as tape:
        table = model.item_tower.step_table(items, training=True)
        loss = tf.reduce_sum(table ** 2)
    assert all(g is not None for g in tape.gradient(loss, model.encoder_variables()))
    assert len(drawn) == 1 and len(set(drawn[0])) == len(drawn[0]) == (cap or 30)
    # The values are the stored table's: a step's own items look like every other item.
    np.testing.assert_array_equal(table.numpy(), model.item_tower.text_table.numpy())
    assert model.item_tower.step_table(items, training=False) is model.item_tower.text_table


def test_frozen_models_have_no_encoder_and_the_config_checks_modes(frozen_table):
    frozen = TwoTowerRetrieval(num_users=5, num_items=30, text_dim=frozen_table.shape[1])
    assert frozen.live_text is None and frozen.text_encoder is None and frozen.encoder_variables() == []
    assert ModelConfig(trainable="top:2").trainable == "top:2"
    with pytest.raises(ValueError, match=r'trainable=\'top:x\' is not a mode\. Use "none", "all" or "top:N"'):
        ModelConfig(trainable="top:x")
    with pytest.raises(ValueError, match="asks for 9 layers but the backbone has 2"):
        _model(frozen_table, "top:9")


def test_a_resumed_run_trains_the_encoder_as_an_uninterrupted_one(frozen_table, tmp_path):
    whole = _model(frozen_table, fine_tune_items=4)
    _train(whole, tmp_path / "whole", epochs=2)
    resumed = _model(frozen_table, fine_tune_items=4)
    _train(resumed, tmp_path / "resumed", epochs=1)
    resumed = _model(frozen_table, fine_tune_items=4)  # a new process: fresh model, same folder
    _train(resumed, tmp_path / "resumed", epochs=2)
    for a, b in zip(whole.encoder_variables(), resumed.encoder_variables()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    np.testing.assert_allclose(whole.item_tower.text_table.numpy(), resumed.item_tower.text_table.numpy(),
                               atol=1e-6)
    assert int(resumed.encoder_optimizer.iterations) == int(whole.encoder_optimizer.iterations)


@pytest.mark.parametrize("cap", [0, 64])
def test_static_shapes_give_the_encoder_the_eager_gradient(frozen_table, cap):
    """Under XLA (static shapes) repeats and padding are encoded too; each item must still
    reach the encoder once, as after tf.unique eagerly (a repeat once multiplied its gradient)."""
    import keras

    model = _model(frozen_table, fine_tune_items=cap)
    for layer in model.text_encoder.backbone._flatten_layers():
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0  # the two passes must be comparable (seen without the fix: 0.9 apart, 0 with it)
    items = tf.constant([[-1, -1, 3, 5, 3], [-1, -1, -1, 5, 7]], tf.int32)  # item 0 absent, 3 and 5 repeated
    weights = tf.constant(np.random.default_rng(0).normal(size=frozen_table.shape), tf.float32)
    gradients = []
    for static in (False, True):
        with tf.GradientTape() as tape:
            table = model.item_tower.step_table(items, training=True, static_shapes=static, valid=items >= 0)
            loss = tf.reduce_sum(table * weights)
        np.testing.assert_array_equal(table.numpy(), model.item_tower.text_table.numpy())
        gradients.append([g.numpy() for g in tape.gradient(loss, model.encoder_variables())])
    for eager, static in zip(*gradients):
        np.testing.assert_allclose(static, eager, rtol=1e-4, atol=1e-6)
