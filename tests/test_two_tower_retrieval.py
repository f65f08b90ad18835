"""TwoTowerRetrieval: it learns a planted pattern, round-trips its config and weights,
and rejects bad arguments by name."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from testing import (TINY_HISTORIES, TINY_IMPRESSIONS, TINY_INTERACTIONS, TINY_ITEMS, TINY_TEXT, TINY_TWO_TOWER,
                     TINY_USERS, TestCase)
from tfllmrec.models import TwoTowerRetrieval


def _fill_tiny(model):
    model.set_training_data(np.ones(TINY_ITEMS), TINY_HISTORIES, TINY_TEXT)


class TwoTowerRetrievalTest(TestCase):
    @staticmethod
    def _scores(model):
        return model.score(tf.range(TINY_USERS, dtype=tf.int32))

    def test_full_softmax(self):
        self.run_model_test(TwoTowerRetrieval, TINY_TWO_TOWER, TINY_INTERACTIONS, self._scores, _fill_tiny)

    def test_in_batch_with_text_loss(self):
        self.run_model_test(TwoTowerRetrieval, dict(TINY_TWO_TOWER, loss="in_batch", text_loss_weight=0.5),
                            TINY_INTERACTIONS, self._scores, _fill_tiny)

    def test_impressions(self):
        self.run_model_test(TwoTowerRetrieval, dict(TINY_TWO_TOWER, history_pooling="text"), TINY_IMPRESSIONS,
                            self._scores, _fill_tiny)

NUM_USERS, NUM_ITEMS, CLASSES, TEXT_DIM = 30, 40, 5, 8
POOLINGS = ("none", "ids", "shared", "ids+text")
LOSSES = ("in_batch", "full_softmax")


def _planted_data():
    """User u likes the 8 items with i % 5 == u % 5; 5 of them train, 3 are held out."""
    rng = np.random.default_rng(0)
    train, held_out = [], []
    for user in range(NUM_USERS):
        liked = rng.permutation(np.arange(user % CLASSES, NUM_ITEMS, CLASSES))
        train.append([int(i) for i in liked[:5]])
        held_out.append([int(i) for i in liked[5:]])
    users = np.repeat(np.arange(NUM_USERS), 5).astype(np.int32)
    items = np.concatenate(train).astype(np.int32)
    # Item text: a noisy one-hot of the item's class.
    text = rng.normal(scale=0.1, size=(NUM_ITEMS, TEXT_DIM)).astype(np.float32)
    text[np.arange(NUM_ITEMS), np.arange(NUM_ITEMS) % CLASSES] += 1.0
    return users, items, train, held_out, text


USERS, ITEMS, TRAIN, HELD_OUT, TEXT = _planted_data()


def _model(pooling="none", loss="full_softmax", seed=0, **overrides):
    tf.keras.utils.set_random_seed(seed)
    args = dict(
        num_users=NUM_USERS, num_items=NUM_ITEMS, embedding_dim=16, text_dim=TEXT_DIM,
        text_hidden_dim=16, history_pooling=pooling, max_history=10, temperature=0.1,
        loss=loss, use_user_ids=pooling == "none", id_dropout=0.0,
    )
    args.update(overrides)
    model = TwoTowerRetrieval(**args)
    model.set_training_data(np.bincount(ITEMS, minlength=NUM_ITEMS), TRAIN, TEXT)
    return model


def _full_loss(model):
    features = {"user": tf.constant(USERS), "item": tf.constant(ITEMS)}
    return float(model.compute_loss(features, training=True))


def _recall_at_10(model):
    """Mean over users of |held-out liked items in the top 10 unseen| / 3, by hand."""
    scores = model.score(tf.range(NUM_USERS, dtype=tf.int32)).numpy()
    assert scores.shape == (NUM_USERS, NUM_ITEMS)
    recalls = []
    for user in range(NUM_USERS):
        row = scores[user].astype(np.float64)
        row[TRAIN[user]] = -np.inf
        top = np.argsort(-row, kind="stable")[:10]
        recalls.append(len(set(top.tolist()) & set(HELD_OUT[user])) / len(HELD_OUT[user]))
    return float(np.mean(recalls))


def _compile(model):
    model.compile(optimizer=tf.keras.optimizers.Adam(0.03))
    return model


def _fit(model, epochs):
    if model.optimizer is None:
        _compile(model)
    data = tf.data.Dataset.from_tensor_slices({"user": USERS, "item": ITEMS})
    data = data.shuffle(len(USERS), seed=0).batch(50)
    return model.fit(data, epochs=epochs, verbose=0)


# Chance: 10 of the 35 unseen items drawn at random hold 10/35 of the 3 held-out ones.
CHANCE_RECALL = 10 / 35


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("pooling", POOLINGS)
def test_training_lowers_the_loss_and_learns_the_pattern(pooling, loss):
    model = _compile(_model(pooling, loss))
    before_loss = _full_loss(model)
    before_recall = _recall_at_10(model)
    history = _fit(model, epochs=12)
    after_loss = _full_loss(model)
    assert np.all(np.isfinite(history.history["loss"]))
    assert after_loss < 0.8 * before_loss, (before_loss, after_loss)
    if loss == "full_softmax":
        recall = _recall_at_10(model)
        assert recall > max(0.6, CHANCE_RECALL + 0.25), (before_recall, recall)


def test_history_pooling_shapes_the_query():
    """With user ids off, a user's vector is the normalised mean of its history items."""
    model = _model("shared")
    users = tf.constant([0, 7], tf.int32)
    item_vectors = model.item_tower.raw(tf.range(NUM_ITEMS)).numpy()
    expected = np.stack([item_vectors[TRAIN[u]].mean(0) for u in (0, 7)])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(model.query(users).numpy(), expected, rtol=1e-5, atol=1e-6)
    candidates = model.candidates().numpy()
    np.testing.assert_allclose(
        model.score(users).numpy(), expected @ candidates.T, rtol=1e-4, atol=1e-6
    )


def test_history_pooling_none_has_no_history():
    model = _model("none", max_history=10)
    assert model.max_history == 0 and model.history_items is None
    assert model.get_config()["max_history"] == 10  # the config keeps what was asked; it means nothing here


@pytest.mark.parametrize("compiled", [False, True], ids=["plain", "compiled"])
def test_full_softmax_loss_is_the_exact_cross_entropy(compiled):
    """`compile()` (which every training run calls) must not change which loss is used."""
    model = _model("none", "full_softmax", temperature=0.5)
    if compiled:
        _compile(model)
        assert model.get_config()["loss"] == "full_softmax" and model.retrieval_loss == "full_softmax"
    users, items = tf.constant([0, 1, 2], tf.int32), tf.constant([0, 6, 2], tf.int32)
    logits = model.score(users).numpy().astype(np.float64) / 0.5
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expected = -log_softmax[np.arange(3), items.numpy()].sum()
    got = float(model.compute_loss({"user": users, "item": items}, training=True))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_text_loss_adds_the_cross_entropy_against_text_only_item_vectors():
    model = _model("none", "full_softmax", temperature=0.5, id_dropout=0.0, text_loss_weight=0.25)
    users, items = tf.constant([0, 1, 2], tf.int32), tf.constant([0, 6, 2], tf.int32)

    def cross_entropy(candidates):
        logits = (model.query(users).numpy() @ candidates.T).astype(np.float64) / 0.5
        log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        return -log_softmax[np.arange(3), items.numpy()].sum()

    text_only = model.item_tower.text_mlp(model.item_tower.text_table).numpy()
    text_only /= np.linalg.norm(text_only, axis=1, keepdims=True)
    expected = cross_entropy(model.candidates().numpy()) + 0.25 * cross_entropy(text_only)
    got = float(model.compute_loss({"user": users, "item": items}, training=True))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # Without text the text loss means nothing: one option gives the ID-only model.
    ids_only = TwoTowerRetrieval(num_users=2, num_items=3, text_loss_weight=1.0, id_dropout=0.0)
    assert ids_only.text_loss_weight == 0.0 and ids_only.get_config()["text_loss_weight"] == 1.0


# ----------------------------------------------------------------------------- config


@pytest.mark.parametrize("pooling,loss", [("ids+text", "in_batch"), ("shared", "full_softmax"),
                                          ("none", "full_softmax")])
def test_config_round_trip_scores_identically(pooling, loss):
    model = _model(pooling, loss, logq_correction=False, id_dropout=0.2, temperature=0.3)
    _fit(model, epochs=1)
    config = model.get_config()
    assert config["history_pooling"] == pooling and config["loss"] == loss
    assert config["logq_correction"] is False and config["temperature"] == 0.3
    assert config["id_dropout"] == 0.2 and config["text_dim"] == TEXT_DIM

    rebuilt = TwoTowerRetrieval.from_config(config)
    assert rebuilt.get_config() == config
    rebuilt.set_training_data(np.bincount(ITEMS, minlength=NUM_ITEMS), TRAIN, TEXT)
    users = tf.range(NUM_USERS, dtype=tf.int32)
    rebuilt.score(users)  # builds the lazily created weights
    assert len(rebuilt.get_weights()) == len(model.get_weights())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_array_equal(rebuilt.score(users).numpy(), model.score(users).numpy())


def test_config_holds_every_argument_under_the_model_configs_names():
    from tfllmrec.models.two_tower_retrieval import OPTIONS
    from tfllmrec.recipes import ModelConfig

    # The model's options are ModelConfig's fields, defaults included: no renaming.
    assert OPTIONS == dataclasses.asdict(ModelConfig())
    options = dict(OPTIONS, use_user_ids=False, use_item_ids=False, embedding_dim=6, text_hidden_dim=7,
                   id_dropout=0.1, history_pooling="text", max_history=9, temperature=0.7, loss="in_batch",
                   logq_correction=False, text_loss_weight=0.5, text_dropout=0.2, period_days=30,
                   ctr_prior_weight=2.0, cold_neighbor_temperature=0.3)
    args = dict(num_users=3, num_items=4, text_dim=5, num_periods=7, **options)
    model = TwoTowerRetrieval(**args)
    assert model.get_config() == args
    assert TwoTowerRetrieval.from_config(model.get_config()).get_config() == args
    assert (model.num_periods, model.period_days, model.max_history, model.temperature) == (7, 30, 9, 0.7)
    assert model.item_bias is True and model.retrieval_loss == "in_batch"


def test_item_bias_is_added_to_scores_not_to_the_loss():
    with pytest.raises(ValueError, match="ctr_prior_weight > 0"):
        _model("none", "full_softmax").set_item_bias(np.zeros(NUM_ITEMS))
    model = _model("none", "full_softmax", ctr_prior_weight=1.0)
    users = tf.range(NUM_USERS, dtype=tf.int32)
    features = {"user": tf.constant([0, 1]), "item": tf.constant([2, 3])}
    plain, loss = model.score(users).numpy(), float(model.compute_loss(features))
    offsets = np.linspace(-1, 1, NUM_ITEMS).astype("float32")
    model.set_item_bias(offsets, new_item_offset=-0.5)
    np.testing.assert_allclose(model.score(users).numpy(), plain + offsets, atol=1e-6)
    np.testing.assert_array_equal(model.offsets(), offsets)
    assert float(model.new_item_offset.numpy()) == -0.5
    assert float(model.compute_loss(features)) == pytest.approx(loss)
    assert _model("none", "full_softmax").offsets() is None
    with pytest.raises(ValueError, match=f"{NUM_ITEMS} finite numbers"):
        model.set_item_bias(np.full(NUM_ITEMS, np.nan))
    assert TwoTowerRetrieval.from_config(model.get_config()).item_bias is True


# ----------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "overrides,pattern",
    [
        (dict(history_pooling="mean"), r"history_pooling='mean'.*none"),
        (dict(history_pooling=None), r"history_pooling=None"),
        (dict(loss="sampled"), r"loss='sampled'.*full_softmax"),
        (dict(temperature=0.0), r"temperature must be positive"),
        (dict(temperature=-1.0), r"temperature must be positive"),
        (dict(history_pooling="text", text_dim=None), r"history_pooling='text' needs item text"),
        (dict(history_pooling="ids+text", text_dim=None), r"history_pooling='ids\+text' needs item text"),
        (dict(history_pooling="text", text_dim=8, use_text=False), r"history_pooling='text' needs item text"),
        (dict(temprature=0.1), r"unknown options \['temprature'\]"),
        (dict(num_periods=4), r"num_periods > 0 needs period_days > 0"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(overrides, pattern):
    args = dict(num_users=3, num_items=4, embedding_dim=4)
    args.update(overrides)
    with pytest.raises((ValueError, TypeError), match=pattern):
        TwoTowerRetrieval(**args)


# ----------------------------------------------------------------------------- persistence


@pytest.mark.parametrize("pooling,loss", [("ids+text", "in_batch"), ("none", "full_softmax")])
def test_save_and_load_weights_round_trip_exactly(tmp_path, pooling, loss):
    model = _model(pooling, loss)
    _fit(model, epochs=1)
    users = tf.range(NUM_USERS, dtype=tf.int32)
    expected = model.score(users).numpy()
    path = str(tmp_path / "ckpt" / "best")
    model.save_weights(path)
    assert (tmp_path / "ckpt" / "best.index").is_file()

    # Fresh model, different seed, no training data: everything comes from the checkpoint.
    restored = _model(pooling, loss, seed=99)
    restored.set_training_data(np.ones(NUM_ITEMS), [[] for _ in range(NUM_USERS)],
                               np.zeros((NUM_ITEMS, TEXT_DIM), np.float32))
    restored.score(users)
    assert not np.array_equal(restored.score(users).numpy(), expected)
    status = restored.load_weights(path)
    status.expect_partial().assert_existing_objects_matched()
    np.testing.assert_array_equal(restored.score(users).numpy(), expected)
    np.testing.assert_array_equal(restored.log_q.numpy(), model.log_q.numpy())


def test_load_weights_before_the_model_is_built(tmp_path):
    model = _model("shared", "full_softmax")
    _fit(model, epochs=1)
    users = tf.range(NUM_USERS, dtype=tf.int32)
    expected = model.score(users).numpy()
    path = str(tmp_path / "weights")
    model.save_weights(path)
    restored = _model("shared", "full_softmax", seed=5)
    restored.load_weights(path).expect_partial()  # deferred restoration
    np.testing.assert_array_equal(restored.score(users).numpy(), expected)


def test_mixed_precision_trains_with_float32_scores():
    tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = _model("shared", "full_softmax")
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")
    assert model.item_tower.compute_dtype == "bfloat16"
    before = _full_loss(model)
    _fit(model, 10)
    assert _full_loss(model) < 0.8 * before
    scores = model.score(tf.constant([0, 1], tf.int32))
    assert scores.dtype == tf.float32 and np.all(np.isfinite(scores.numpy()))


# ----------------------------------------------------------------------------- time periods


def _period_data():
    """Every user buys in every period; in period p what sells is items i % 4 == p."""
    rng = np.random.default_rng(1)
    users, items, periods = [], [], []
    for user in range(NUM_USERS):
        for period in range(4):
            for item in rng.choice(np.arange(period, NUM_ITEMS, 4), 3, replace=False):
                users.append(user), items.append(item), periods.append(period)
    return (np.asarray(users, np.int32), np.asarray(items, np.int32), np.asarray(periods, np.int32))


@pytest.mark.parametrize("num_periods,policy", [(0, "float32"), (4, "float32"), (4, "mixed_bfloat16")])
def test_periods_learn_what_sells_when(num_periods, policy):
    users, items, periods = _period_data()
    tf.keras.utils.set_random_seed(0)
    tf.keras.mixed_precision.set_global_policy(policy)
    try:
        model = TwoTowerRetrieval(num_users=NUM_USERS, num_items=NUM_ITEMS, embedding_dim=16, id_dropout=0.0,
                                  loss="full_softmax", temperature=0.1, num_periods=num_periods,
                                  period_days=30 if num_periods else 0)
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")
    model.set_training_data(np.bincount(items, minlength=NUM_ITEMS), [[]] * NUM_USERS,
                            user_periods=np.arange(NUM_USERS) % 4 if num_periods else None)
    features = {"user": users, "item": items}
    if num_periods:
        features["period"] = periods
    _compile(model).fit(tf.data.Dataset.from_tensor_slices(features).shuffle(len(users), seed=0).batch(64),
                        epochs=15, verbose=0)
    # Served with each user's stored period (user % 4): the top 5 should be that period's items.
    top = np.argsort(-model.score(tf.range(NUM_USERS, dtype=tf.int32)).numpy(), axis=1)[:, :5]
    precision = np.mean(top % 4 == (np.arange(NUM_USERS) % 4)[:, None])
    if num_periods:
        assert precision > 0.9, precision
    else:  # ids alone cannot know when a user shops: about chance (1/4)
        assert precision < 0.5, precision
