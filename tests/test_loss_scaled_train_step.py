"""Under mixed_float16 every model scales its loss, so small gradients survive float16."""

import logging

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_recommenders as tfrs

from testing import (TINY_HISTORIES, TINY_IMPRESSIONS, TINY_INTERACTIONS, TINY_ITEMS, TINY_NRMS, TINY_TEXT,
                     TINY_TEXT_RANKING, TINY_TWO_TOWER)
from tfllmrec.models import NRMS, TextRanking, TwoTowerRetrieval
from tfllmrec.models.loss_scaled_train_step import LossScaledTrainStep

# A gradient of 1e-8 is below float16's smallest number (6e-8): unscaled, it flushes to zero.
_TINY_GRADIENT = 1e-8


class _Toy(tfrs.Model):
    """`tower(encoder(x))`, with a loss whose gradients underflow float16 unless the loss is scaled."""

    def __init__(self):
        super().__init__()
        self.encoder = tf.keras.layers.Dense(4, use_bias=False, kernel_initializer="ones")
        self.tower = tf.keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")

    def compute_loss(self, inputs, training=False):
        return tf.cast(tf.reduce_mean(self.tower(self.encoder(inputs["x"]))), tf.float32) * _TINY_GRADIENT


class _ScaledToy(LossScaledTrainStep, _Toy):
    def encoder_variables(self):
        return self.encoder.trainable_weights


@pytest.fixture
def float16():
    tf.keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    tf.keras.mixed_precision.set_global_policy("float32")


def _step(model, encoder_optimizer=None):
    # compile() wraps the optimizer in a LossScaleOptimizer under mixed_float16 (the trainer does the same
    # to the encoder's); a learning rate of 1e4 turns a 1e-8 gradient into a visible 1e-4 step.
    model.compile(optimizer=tf.keras.optimizers.SGD(1e4))
    model.encoder_optimizer = encoder_optimizer
    model.fit(tf.data.Dataset.from_tensor_slices({"x": np.ones((2, 3), np.float32)}).batch(2), verbose=0)
    return [float(np.max(np.abs(v.numpy() - 1.0))) for v in (model.encoder.kernel, model.tower.kernel)]


def test_tfrs_step_loses_small_float16_gradients(float16):
    # The bug fixed here: TFRS' own step never scales the loss, so nothing moves.
    assert _step(_Toy()) == [0.0, 0.0]


def test_scaled_step_keeps_them_for_both_optimizers(float16, caplog):
    encoder_optimizer = tf.keras.mixed_precision.LossScaleOptimizer(tf.keras.optimizers.SGD(1e4))
    with caplog.at_level(logging.WARNING):
        encoder_moved, tower_moved = _step(_ScaledToy(), encoder_optimizer)
    # d loss / d tower kernel = 1e-8 * 3 (the encoder's outputs); d / d encoder kernel = 1e-8 * 1.
    assert tower_moved == pytest.approx(1e4 * 3 * _TINY_GRADIENT, rel=1e-2)
    assert encoder_moved == pytest.approx(1e4 * _TINY_GRADIENT, rel=1e-2)
    assert encoder_optimizer.iterations.numpy() == 1
    assert "forgot to call" not in caplog.text


def test_scaled_step_without_an_encoder_optimizer_trains_everything(float16):
    encoder_moved, tower_moved = _step(_ScaledToy())
    assert encoder_moved > 0 and tower_moved > 0


_RATINGS = dict(TINY_INTERACTIONS, label=np.linspace(1, 5, len(TINY_INTERACTIONS["user"])).astype(np.float32))


def _two_tower():
    model = TwoTowerRetrieval(**TINY_TWO_TOWER)
    model.set_training_data(np.ones(TINY_ITEMS), TINY_HISTORIES, TINY_TEXT)
    return model


def _text_ranking():
    model = TextRanking(**TINY_TEXT_RANKING)
    model.set_training_data(np.ones(TINY_ITEMS), TINY_TEXT, TINY_HISTORIES, _RATINGS["label"])
    return model


def _nrms():
    model = NRMS(**TINY_NRMS)
    model.set_data(TINY_TEXT, TINY_HISTORIES)
    return model


@pytest.mark.parametrize("build,features", [(_two_tower, TINY_INTERACTIONS), (_text_ranking, _RATINGS),
                                            (_nrms, TINY_IMPRESSIONS)])
def test_every_model_trains_under_float16(float16, caplog, build, features):
    model = build()
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-2))
    assert isinstance(model.optimizer, tf.keras.mixed_precision.LossScaleOptimizer)
    data = tf.data.Dataset.from_tensor_slices(features).batch(4)
    with caplog.at_level(logging.WARNING):
        history = model.fit(data, epochs=5, verbose=0).history
    assert "forgot to call" not in caplog.text
    assert np.isfinite(history["total_loss"]).all() and history["total_loss"][-1] < history["total_loss"][0]


def test_text_ranking_called_directly_under_float16_answers_in_float32(float16):
    # Keras' __call__ autocasts float32 weights to float16; the offset and profiles must stay float32.
    model = TextRanking(**dict(TINY_TEXT_RANKING, user_text_dim=3))
    model.set_training_data(np.ones(TINY_ITEMS), TINY_TEXT, TINY_HISTORIES, _RATINGS["label"],
                            user_profiles=np.ones((len(TINY_HISTORIES), 3)))
    scores = model({"user": tf.constant([0, 1]), "item": tf.constant([2, 3])})
    assert scores.dtype == tf.float32 and np.isfinite(scores.numpy()).all()
