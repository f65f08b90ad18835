"""NRMS-style baseline: masking, config round trip, learning a toy impression task."""

import numpy as np
import pytest
import tensorflow as tf

from testing import TINY_HISTORIES, TINY_IMPRESSIONS, TINY_NRMS, TINY_TEXT, TINY_USERS, TestCase
from tfllmrec.models import NRMS


class NRMSTest(TestCase):
    def test_model(self):
        def scores(model):
            users = tf.range(TINY_USERS, dtype=tf.int32)
            return tf.matmul(model.query(users), model.candidates(), transpose_b=True)

        self.run_model_test(NRMS, TINY_NRMS, TINY_IMPRESSIONS, scores,
                            prepare=lambda model: model.set_data(TINY_TEXT, TINY_HISTORIES))


def _model(**options):
    model = NRMS(num_users=3, num_items=6, text_dim=8, news_dim=16, num_heads=4,
                 attention_hidden_dim=8, dropout=0.0, max_history=4, **options)
    table = np.random.default_rng(0).normal(size=(6, 8)).astype("float32")
    model.set_data(table, [[0, 1], [2, 3, 4, 5, 1], []])
    return model


def test_scores_shapes_history_truncation_and_empty_history():
    model = _model()
    scores = model({"user": tf.constant([0, 1, 2]), "items": tf.constant([[3, 4], [0, 1], [2, 5]])})
    assert scores.shape == (3, 2)
    assert model.histories.numpy()[1].tolist() == [3, 4, 5, 1]  # the 4 most recent
    assert model.histories.numpy()[2].tolist() == [-1, -1, -1, -1]
    users = model.query(tf.constant([2])).numpy()
    assert np.all(users == 0) and np.all(scores.numpy()[2] == 0)  # no history: no preference
    assert np.all(np.isfinite(scores.numpy()))


def test_padding_does_not_change_a_user_vector():
    short = _model()
    a = short.query(tf.constant([0, 1])).numpy()
    long = NRMS.from_config(dict(short.get_config(), max_history=7))
    long({"user": tf.constant([0]), "items": tf.constant([[0]])})
    for name in ("news_projection", "self_attention", "pooling"):
        getattr(long, name).set_weights(getattr(short, name).get_weights())
    long.set_data(short.text_table.numpy(), [[0, 1], [2, 3, 4, 5, 1], []])
    b = long.query(tf.constant([0, 1])).numpy()
    np.testing.assert_allclose(a[0], b[0], atol=1e-5)  # same 2 clicks, more padding


def test_config_round_trip_and_checkpoint(tmp_path):
    model = _model()
    inputs = {"user": tf.constant([0, 1]), "items": tf.constant([[3, 4, 5], [0, 1, 2]])}
    before = model(inputs).numpy()
    model.save_weights(str(tmp_path / "w"))
    again = NRMS.from_config(model.get_config())
    assert again.get_config() == model.get_config()
    again(inputs)
    again.load_weights(str(tmp_path / "w")).assert_existing_objects_matched()
    np.testing.assert_allclose(again(inputs).numpy(), before, atol=1e-6)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="multiple of num_heads"):
        NRMS(2, 3, 8, news_dim=10, num_heads=4)
    with pytest.raises(ValueError, match="text table must be"):
        NRMS(2, 3, 8, news_dim=8, num_heads=2).set_data(np.zeros((3, 5)), [[], []])


def test_learns_to_prefer_news_like_the_history():
    """Users of group g clicked news of group g; the model must rank such news first."""
    rng = np.random.default_rng(1)
    groups = np.arange(40) % 2
    table = (rng.normal(size=(40, 8)) + 3 * np.eye(8)[groups]).astype("float32")
    histories = [list(rng.choice(np.flatnonzero(groups == u % 2), 5, replace=False)) for u in range(20)]
    model = NRMS(20, 40, 8, news_dim=16, num_heads=2, attention_hidden_dim=8, dropout=0.0, max_history=5)
    model.set_data(table, histories)
    users = np.arange(20)
    pos = np.array([rng.choice(np.flatnonzero(groups == u % 2)) for u in users])
    neg = np.array([rng.choice(np.flatnonzero(groups != u % 2)) for u in users])
    items = tf.constant(np.stack([pos, neg], 1))
    optimizer = tf.keras.optimizers.Adam(1e-2)
    for _ in range(60):
        with tf.GradientTape() as tape:
            logits = model({"user": tf.constant(users), "items": items}, training=True)
            labels = tf.zeros(20, tf.int32)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    # Held-out pairs: other news of each group.
    test_pos = np.array([np.flatnonzero(groups == u % 2)[-1] for u in users])
    test_neg = np.array([np.flatnonzero(groups != u % 2)[-1] for u in users])
    pairs = tf.constant(np.stack([test_pos, test_neg], 1))
    scores = model({"user": tf.constant(users), "items": pairs}).numpy()
    assert (scores[:, 0] > scores[:, 1]).mean() >= 0.9
