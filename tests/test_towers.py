"""ItemTower and UserTower: config round trips, the text/id paths, history pooling."""

import inspect

import numpy as np
import pytest
import tensorflow as tf

from testing import TINY_HISTORIES, TINY_INTERACTIONS, TINY_ITEM_TOWER, TINY_TEXT, TINY_USER_TOWER, TestCase
from tfllmrec.towers import ItemTower, UserTower


class ItemTowerTest(TestCase):
    def test_hybrid_tower(self):
        self.run_layer_test(ItemTower, TINY_ITEM_TOWER, lambda tower, f, training: tower(f["item"], training=training),
                            TINY_INTERACTIONS, prepare=lambda tower: tower.set_text_table(TINY_TEXT))

    def test_ids_only_tower(self):
        self.run_layer_test(ItemTower, dict(TINY_ITEM_TOWER, text_dim=None),
                            lambda tower, f, training: tower(f["item"], training=training), TINY_INTERACTIONS)


class UserTowerTest(TestCase):
    def test_ids_and_history(self):
        def call(tower, features, training):
            return tower(features["user"], item_vectors=tf.constant(TINY_TEXT), training=training)

        self.run_layer_test(UserTower, TINY_USER_TOWER, call, TINY_INTERACTIONS,
                            prepare=lambda tower: tower.set_history(TINY_HISTORIES))


def _constructor_args(cls):
    return [
        name for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD
    ]


def _assert_config_holds(tower, args):
    config = tower.get_config()
    for name in _constructor_args(type(tower)):
        assert name in config, f"{name} missing from get_config()"
        assert config[name] == args[name], (name, config[name], args[name])
        assert getattr(tower, name) == args[name], (name, getattr(tower, name), args[name])
        assert type(config[name]) is type(args[name]), (name, config[name])


# ----------------------------------------------------------------------------- ItemTower


ITEM_ARGS = dict(num_items=7, embedding_dim=5, use_item_ids=True, text_dim=6,
                 text_hidden_dim=9, id_dropout=0.25, normalize=False, seed=3, text_dropout=0.1,
                 fuse_text=True, cold_neighbors=0, cold_neighbor_temperature=0.5, init_stddev=0.05)


def _item_tower(seed=0, **overrides):
    tf.keras.utils.set_random_seed(seed)
    return ItemTower(**{**ITEM_ARGS, **overrides})


def test_item_tower_config_round_trip_with_weights():
    # Two unknown items below, placed among their text neighbours.
    args = dict(ITEM_ARGS, cold_neighbors=2)
    tower = _item_tower(name="items", cold_neighbors=2)
    assert sorted(_constructor_args(ItemTower)) == sorted(ITEM_ARGS)
    _assert_config_holds(tower, args)
    table = np.random.default_rng(1).normal(size=(7, 6)).astype("float32")
    tower.set_text_table(table)
    tower.set_known_items([True, False, True, True, False, True, True])
    indices = tf.constant([0, 1, 2, 3, 4, 5, 6, 2])
    expected = tower(indices).numpy()

    config = tower.get_config()
    rebuilt = ItemTower.from_config(config)
    assert rebuilt.get_config() == config
    assert rebuilt.name == "items"
    _assert_config_holds(rebuilt, args)
    rebuilt(indices)  # creates the lazily built weights
    assert len(rebuilt.get_weights()) == len(tower.get_weights())
    rebuilt.set_weights(tower.get_weights())
    np.testing.assert_array_equal(rebuilt(indices).numpy(), expected)
    # Text table and known mask are state too, and came across with the weights.
    np.testing.assert_array_equal(rebuilt.text_table.numpy(), table)
    np.testing.assert_array_equal(rebuilt.known.numpy(), [1, 0, 1, 1, 0, 1, 1])


def test_item_tower_config_round_trip_ids_only_normalised():
    args = dict(ITEM_ARGS, text_dim=None, id_dropout=0.0, normalize=True)
    tower = _item_tower(text_dim=None, id_dropout=0.0, normalize=True)
    _assert_config_holds(tower, args)
    indices = tf.constant([3, 0, 6])
    expected = tower(indices).numpy()
    rebuilt = ItemTower.from_config(tower.get_config())
    assert rebuilt.text_mlp is None
    rebuilt(indices)
    rebuilt.set_weights(tower.get_weights())
    np.testing.assert_array_equal(rebuilt(indices).numpy(), expected)


def test_item_tower_text_only_has_no_id_path():
    tower = _item_tower(use_item_ids=False)
    tower.set_text_table(np.eye(7, 6, dtype="float32"))
    assert tower.ids is None
    indices = tf.constant([0, 4])
    np.testing.assert_allclose(
        tower(indices).numpy(),
        tower.text_vectors(tf.gather(tower.text_table, indices)).numpy(), rtol=1e-6,
    )


def test_item_tower_needs_ids_or_text():
    with pytest.raises(ValueError, match="ids, text, or both"):
        ItemTower(num_items=3, use_item_ids=False, text_dim=None)


@pytest.mark.parametrize("text_dim", [None, 6])
def test_item_tower_output_is_l2_normalised(text_dim):
    tower = _item_tower(text_dim=text_dim, normalize=True)
    if text_dim:
        tower.set_text_table(np.random.default_rng(0).normal(size=(7, 6)).astype("float32"))
    out = tower(tf.range(7)).numpy()
    assert out.shape == (7, 5)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), np.ones(7), rtol=1e-5)
    # ... and it is the normalised raw vector, not some other unit vector.
    raw = tower.raw(tf.range(7)).numpy()
    np.testing.assert_allclose(out, raw / np.linalg.norm(raw, axis=1, keepdims=True), rtol=1e-5)


@pytest.mark.parametrize("shape", [(7, 5), (6, 6), (7,), (7, 6, 1)])
def test_item_tower_text_table_shape_is_checked(shape):
    tower = _item_tower()
    before = tower.text_table.numpy().copy()
    with pytest.raises(ValueError, match=r"text table must be \(7, 6\)"):
        tower.set_text_table(np.ones(shape, "float32"))
    np.testing.assert_array_equal(tower.text_table.numpy(), before)


def test_set_known_items_zeroes_unseen_ids_when_text_exists():
    tower = _item_tower(id_dropout=0.0)
    table = np.random.default_rng(2).normal(size=(7, 6)).astype("float32")
    tower.set_text_table(table)
    all_items = tf.range(7)
    text_only = tower.text_vectors(tf.constant(table)).numpy()
    with_ids = tower.raw(all_items).numpy()
    ids = tower.ids(all_items).numpy()
    np.testing.assert_allclose(with_ids, ids + text_only, rtol=1e-5, atol=1e-7)

    known = np.array([True, False, True, False, True, True, False])
    tower.set_known_items(known)
    after = tower.raw(all_items).numpy()
    # Unseen items: text alone. Known items: unchanged.
    np.testing.assert_allclose(after[~known], text_only[~known], rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(after[known], with_ids[known])


def test_set_known_items_keeps_ids_without_text():
    tower = _item_tower(text_dim=None, id_dropout=0.0)
    before = tower.raw(tf.range(7)).numpy()
    tower.set_known_items(np.zeros(7, bool))
    np.testing.assert_array_equal(tower.known.numpy(), np.ones(7))
    after = tower.raw(tf.range(7)).numpy()
    np.testing.assert_array_equal(after, before)
    assert np.all(np.abs(after).sum(1) > 0)


def test_id_dropout_applies_only_in_training():
    tower = _item_tower(num_items=400, text_dim=None, id_dropout=0.5)
    indices = tf.range(400)
    ids = tower.ids(indices).numpy()
    # Inference: never dropped, and deterministic.
    np.testing.assert_array_equal(tower.raw(indices, training=False).numpy(), ids)
    np.testing.assert_array_equal(tower(indices).numpy(), ids)
    # Training: each row is either the id vector or zero, about half zero.
    tf.random.set_seed(3)
    trained = tower.raw(indices, training=True).numpy()
    dropped = np.all(trained == 0, axis=1)
    np.testing.assert_array_equal(trained[~dropped], ids[~dropped])
    assert 0.35 < dropped.mean() < 0.65, dropped.mean()

    no_dropout = _item_tower(num_items=400, text_dim=None, id_dropout=0.0)
    np.testing.assert_array_equal(
        no_dropout.raw(indices, training=True).numpy(), no_dropout.ids(indices).numpy()
    )


def test_id_dropout_keeps_the_text_path():
    tower = _item_tower(num_items=200, id_dropout=0.5, text_dim=6, text_dropout=0.0)
    table = np.random.default_rng(4).normal(size=(200, 6)).astype("float32")
    tower.set_text_table(table)
    indices = tf.range(200)
    text_only = tower.text_vectors(tf.constant(table)).numpy()
    ids = tower.ids(indices).numpy()
    tf.random.set_seed(5)
    trained = tower.raw(indices, training=True).numpy()
    is_text_only = np.all(np.isclose(trained, text_only, rtol=1e-5, atol=1e-6), axis=1)
    is_full = np.all(np.isclose(trained, ids + text_only, rtol=1e-5, atol=1e-6), axis=1)
    assert np.all(is_text_only | is_full)
    assert 0.3 < is_text_only.mean() < 0.7, is_text_only.mean()


def test_text_dropout_applies_only_in_training():
    tower = _item_tower(num_items=50, use_item_ids=False, text_dim=64, text_hidden_dim=32,
                        text_dropout=0.5)
    plain = _item_tower(num_items=50, use_item_ids=False, text_dim=64, text_hidden_dim=32,
                        text_dropout=0.0)
    table = np.random.default_rng(6).normal(size=(50, 64)).astype("float32")
    for t in (tower, plain):
        t.set_text_table(table)
    indices = tf.range(50)
    tower(indices), plain(indices)
    plain.set_weights(tower.get_weights())  # dropout layers hold no weights
    np.testing.assert_array_equal(tower(indices).numpy(), plain(indices).numpy())
    np.testing.assert_array_equal(tower.text_only(indices).numpy(), plain.text_only(indices).numpy())
    tf.random.set_seed(7)
    trained = tower.raw(indices, training=True).numpy()
    assert not np.allclose(trained, plain.raw(indices).numpy(), atol=1e-3)
    # Without text_dropout the layers are exactly the Dense ones, so checkpoints
    # written before the option existed still name the same layers.
    assert [type(layer).__name__ for layer in plain.text_mlp.layers] == ["Dense", "Dense"]


def test_text_hidden_dim_zero_is_a_linear_projection():
    tower = _item_tower(use_item_ids=False, text_dim=6, text_hidden_dim=0, text_dropout=0.0)
    table = np.random.default_rng(8).normal(size=(7, 6)).astype("float32")
    tower.set_text_table(table)
    out = tower.raw(tf.range(7)).numpy()
    (dense,) = tower.text_mlp.layers
    np.testing.assert_allclose(out, table @ dense.kernel.numpy() + dense.bias.numpy(), rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- UserTower


USER_ARGS = dict(num_users=4, embedding_dim=3, use_user_ids=True, max_history=5, normalize=False,
                 num_periods=3, init_stddev=0.05, history_norm="sqrt")


def test_user_tower_config_round_trip_with_weights():
    tf.keras.utils.set_random_seed(0)
    tower = UserTower(**USER_ARGS, name="users")
    assert sorted(_constructor_args(UserTower)) == sorted(USER_ARGS)
    _assert_config_holds(tower, USER_ARGS)
    tower.set_history([[0, 1], [2], [], [1, 2, 3]])
    tower.set_periods([0, 2, -1, 1])
    items = tf.constant(np.random.default_rng(0).normal(size=(4, 3)), tf.float32)
    users = tf.constant([0, 1, 2, 3])
    expected = tower(users, item_vectors=items).numpy()

    config = tower.get_config()
    rebuilt = UserTower.from_config(config)
    assert rebuilt.get_config() == config
    assert rebuilt.name == "users"
    _assert_config_holds(rebuilt, USER_ARGS)
    rebuilt(users, item_vectors=items)
    rebuilt.set_weights(tower.get_weights())
    np.testing.assert_array_equal(rebuilt(users, item_vectors=items).numpy(), expected)
    np.testing.assert_array_equal(rebuilt.history.numpy(), tower.history.numpy())
    np.testing.assert_array_equal(rebuilt.user_period.numpy(), [0, 2, -1, 1])


def test_user_tower_config_round_trip_ids_only():
    args = dict(USER_ARGS, max_history=0, normalize=True, num_periods=0)
    tower = UserTower(**args)
    _assert_config_holds(tower, args)
    users = tf.constant([3, 1])
    expected = tower(users).numpy()
    rebuilt = UserTower.from_config(tower.get_config())
    rebuilt(users)
    rebuilt.set_weights(tower.get_weights())
    np.testing.assert_array_equal(rebuilt(users).numpy(), expected)
    np.testing.assert_allclose(np.linalg.norm(expected, axis=1), [1, 1], rtol=1e-5)


def test_user_tower_needs_ids_or_history():
    with pytest.raises(ValueError, match="user ids, a history, or both"):
        UserTower(num_users=2, use_user_ids=False, max_history=0)


# Item vectors chosen so every mean is exact in float32.
ITEM_VECTORS = np.array(
    [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 4.0], [8.0, 8.0, 8.0], [-2.0, 4.0, 6.0]],
    np.float32,
)
HISTORIES = [[0, 1], [2, 3, 4, 0], [], [4], [1, 1, 3]]


def _history_tower(max_history=4, normalize=False):
    tower = UserTower(num_users=len(HISTORIES), embedding_dim=3, use_user_ids=False,
                      max_history=max_history, normalize=normalize)
    tower.set_history(HISTORIES)
    return tower


def _masked_mean(items, drop=None):
    items = [i for i in items if i != drop]
    if not items:
        return np.zeros(3, np.float32)
    return ITEM_VECTORS[items].mean(0)


def test_history_table_is_padded_and_keeps_most_recent():
    tower = _history_tower(max_history=3)
    np.testing.assert_array_equal(
        tower.history.numpy(),
        [[0, 1, -1], [3, 4, 0], [-1, -1, -1], [4, -1, -1], [1, 1, 3]],
    )


def test_history_pooling_is_the_masked_mean():
    tower = _history_tower()
    users = tf.constant([0, 1, 2, 3, 4, 1])
    out = tower(users, item_vectors=tf.constant(ITEM_VECTORS)).numpy()
    expected = np.stack([_masked_mean(HISTORIES[u]) for u in [0, 1, 2, 3, 4, 1]])
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    # Spot-check by hand: user 0 = mean(v0, v1) = [0.5, 1, 0].
    np.testing.assert_allclose(out[0], [0.5, 1.0, 0.0])
    # User 4 has item 1 twice: a repeat counts twice.
    np.testing.assert_allclose(out[4], (2 * ITEM_VECTORS[1] + ITEM_VECTORS[3]) / 3, rtol=1e-6)


def test_history_pooling_truncated_to_most_recent():
    tower = _history_tower(max_history=2)
    out = tower(tf.constant([1]), item_vectors=tf.constant(ITEM_VECTORS)).numpy()
    np.testing.assert_allclose(out[0], _masked_mean([4, 0]), rtol=1e-6)


def test_exclude_items_removes_the_target_from_the_history():
    tower = _history_tower()
    users = tf.constant([0, 1, 3, 4, 2])
    exclude = tf.constant([1, 3, 4, 1, 0])
    out = tower(users, item_vectors=tf.constant(ITEM_VECTORS), exclude_items=exclude).numpy()
    np.testing.assert_allclose(out[0], ITEM_VECTORS[0], rtol=1e-6)
    np.testing.assert_allclose(out[1], _masked_mean([2, 4, 0]), rtol=1e-6)
    # The only history item excluded: nothing left, a zero vector (no NaN).
    np.testing.assert_array_equal(out[2], np.zeros(3))
    # Excluding a repeated item drops every occurrence.
    np.testing.assert_allclose(out[3], ITEM_VECTORS[3], rtol=1e-6)
    np.testing.assert_array_equal(out[4], np.zeros(3))
    # An item not in the history changes nothing.
    same = tower(tf.constant([0]), item_vectors=tf.constant(ITEM_VECTORS),
                 exclude_items=tf.constant([4])).numpy()
    np.testing.assert_allclose(same[0], _masked_mean(HISTORIES[0]), rtol=1e-6)


def test_empty_history_gives_zeros():
    tower = _history_tower(normalize=False)
    out = tower(tf.constant([2, 2]), item_vectors=tf.constant(ITEM_VECTORS)).numpy()
    np.testing.assert_array_equal(out, np.zeros((2, 3)))
    assert np.all(np.isfinite(out))
    normalised = _history_tower(normalize=True)
    out = normalised(tf.constant([2, 0]), item_vectors=tf.constant(ITEM_VECTORS)).numpy()
    np.testing.assert_array_equal(out[0], np.zeros(3))
    np.testing.assert_allclose(out[1], [1 / np.sqrt(5), 2 / np.sqrt(5), 0.0], rtol=1e-6)


def test_user_ids_and_history_add_up():
    tf.keras.utils.set_random_seed(1)
    tower = UserTower(num_users=len(HISTORIES), embedding_dim=3, use_user_ids=True,
                      max_history=4, normalize=False)
    tower.set_history(HISTORIES)
    users = tf.constant([0, 2, 4])
    out = tower(users, item_vectors=tf.constant(ITEM_VECTORS)).numpy()
    ids = tower.ids(users).numpy()
    pooled = np.stack([_masked_mean(HISTORIES[u]) for u in [0, 2, 4]])
    np.testing.assert_allclose(out, ids + pooled, rtol=1e-6)


# ----------------------------------------------------------------------------- time periods


def _period_tower():
    tf.keras.utils.set_random_seed(2)
    tower = UserTower(num_users=3, embedding_dim=4, use_user_ids=True, normalize=False, num_periods=5)
    tower(tf.constant([0]))  # builds the embeddings
    return tower


def test_period_vectors_add_to_the_user_vector():
    tower = _period_tower()
    users = tf.constant([0, 1, 2, 1])
    ids = tower.ids(users).numpy()
    table = tower.periods.embeddings.numpy()
    out = tower(users, periods=tf.constant([4, 0, -1, 2])).numpy()
    np.testing.assert_allclose(out[0], ids[0] + table[4], rtol=1e-6)
    np.testing.assert_allclose(out[1], ids[1] + table[0], rtol=1e-6)
    # -1: no period known, the id alone.
    np.testing.assert_allclose(out[2], ids[2], rtol=1e-6)
    np.testing.assert_allclose(out[3], ids[3] + table[2], rtol=1e-6)


def test_stored_periods_serve_when_none_are_given():
    tower = _period_tower()
    # Before set_periods every user has -1: no period term.
    users = tf.constant([0, 1, 2])
    np.testing.assert_allclose(tower(users).numpy(), tower.ids(users).numpy(), rtol=1e-6)
    tower.set_periods([3, -1, 1])
    np.testing.assert_allclose(tower(users).numpy(),
                               tower(users, periods=tf.constant([3, -1, 1])).numpy(), rtol=1e-6)
    assert not np.allclose(tower(users).numpy()[0], tower.ids(users).numpy()[0])


@pytest.mark.parametrize("periods", [[0, 1], [0, 1, 5], [[0], [1], [2]], [0, -2, 1]])
def test_set_periods_checks_shape_and_range(periods):
    tower = _period_tower()
    with pytest.raises(ValueError, match="set_periods needs 3 periods from -1 to 4"):
        tower.set_periods(periods)


def test_set_periods_on_a_tower_without_periods_says_so():
    tower = UserTower(num_users=3, embedding_dim=4)
    with pytest.raises(ValueError, match="no time periods.*num_periods > 0"):
        tower.set_periods([0, 0, 0])
