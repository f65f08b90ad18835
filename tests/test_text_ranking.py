"""TextRanking learns ratings and clicks from ids and text on synthetic data."""

import numpy as np
import pytest
import tensorflow as tf

from testing import TINY_HISTORIES, TINY_INTERACTIONS, TINY_ITEMS, TINY_TEXT, TINY_TEXT_RANKING, TestCase
from tfllmrec.models import TextRanking


class TextRankingTest(TestCase):
    def test_rating_model(self):
        features = dict(TINY_INTERACTIONS, label=np.linspace(1, 5, len(TINY_INTERACTIONS["user"]), dtype="float32"))
        self.run_model_test(TextRanking, TINY_TEXT_RANKING, features,
                            lambda model: model.predict_scores(tf.constant(features["user"]), tf.constant(features["item"])),
                            prepare=lambda model: model.set_training_data(np.ones(TINY_ITEMS), TINY_TEXT,
                                                                          TINY_HISTORIES, features["label"]))

    def test_a_candidate_matrix_scores_as_each_pair_does(self):
        tf.keras.utils.set_random_seed(0)
        model = TextRanking(**TINY_TEXT_RANKING)
        model.set_training_data(np.ones(TINY_ITEMS), TINY_TEXT, TINY_HISTORIES, [1.0, 5.0])
        self.assertAlmostEqual(float(model.offset.numpy()), 3.0)
        candidates = tf.constant([[1, 2, 3], [7, 0, 0]])
        matrix = model.score_candidates(tf.constant([0, 4]), candidates).numpy()
        pairs = model.predict_scores(tf.constant([0, 0, 0, 4, 4, 4]), tf.reshape(candidates, [-1])).numpy()
        np.testing.assert_allclose(matrix.ravel(), pairs, atol=1e-6)

NUM_USERS, NUM_ITEMS, TEXT_DIM = 20, 30, 8


def _data(objective, seed=0):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, NUM_USERS, 2000)
    items = rng.integers(0, NUM_ITEMS, 2000)
    # Users in the same group as an item like it: a pattern the towers can learn.
    liked = (users % 3) == (items % 3)
    labels = np.where(liked, 4.5, 1.5) if objective == "rating" else liked.astype("float32")
    return users, items, labels.astype("float32")


def _model(objective):
    tf.keras.utils.set_random_seed(1)
    model = TextRanking(NUM_USERS, NUM_ITEMS, embedding_dim=8, text_dim=TEXT_DIM,
                        hidden_units=(16,), objective=objective)
    text = np.random.default_rng(2).normal(size=(NUM_ITEMS, TEXT_DIM)).astype("float32")
    model.set_training_data(np.ones(NUM_ITEMS), text)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01))
    return model


def _fit(model, objective):
    users, items, labels = _data(objective)
    data = tf.data.Dataset.from_tensor_slices({"user": users, "item": items, "label": labels}).batch(128)
    return model.fit(data, epochs=15, verbose=0).history


def test_rating_regression_learns_the_pattern():
    model = _model("rating")
    history = _fit(model, "rating")
    assert history["rmse"][-1] < 0.5 * history["rmse"][0]
    assert history["mae"][-1] < 0.5
    users, items, labels = _data("rating", seed=5)
    predictions = model.predict_scores(tf.constant(users), tf.constant(items)).numpy()
    assert np.sqrt(np.mean((predictions - labels) ** 2)) < 0.5


def test_click_prediction_reaches_high_auc():
    model = _model("click")
    history = _fit(model, "click")
    assert history["auc"][-1] > 0.95
    assert history["loss"][-1] < history["loss"][0]


def test_config_round_trip_scores_identically():
    model = _model("click")
    users, items = tf.constant([0, 1, 2]), tf.constant([3, 4, 5])
    expected = model.predict_scores(users, items).numpy()
    clone = TextRanking.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    clone.predict_scores(users, items)
    for name in model.get_config():
        assert getattr(clone, name) == getattr(model, name) or name == "hidden_units"
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict_scores(users, items).numpy(), expected, atol=1e-6)


def test_unknown_objective_is_rejected():
    with pytest.raises(ValueError, match="objective='ctr'"):
        TextRanking(3, 3, objective="ctr")
