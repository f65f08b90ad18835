"""SequenceQueryTower: causality, padding, positions counted from the newest item, training,
persistence through the Keras 3 bridge, mixed precision and XLA."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_recommenders as tfrs

from testing import TestCase
from tfllmrec.towers import SequenceQueryTower

TINY = dict(input_dim=8, max_length=6, output_dim=4, num_layers=2, num_heads=2, intermediate_dim=16, dropout=0.0)
ITEMS = np.random.default_rng(0).normal(size=(3, 6, 8)).astype("float32")
# Left padding, padding in the middle, no padding.
MASK = np.array([[0, 0, 1, 1, 1, 1], [1, 0, 1, 1, 0, 1], [1, 1, 1, 1, 1, 1]], bool)


def _tower(seed=0, **overrides):
    tf.keras.utils.set_random_seed(seed)
    return SequenceQueryTower(**{**TINY, **overrides})


def _newest(mask):
    return np.array([np.flatnonzero(row).max() for row in mask])


class SequenceQueryTowerLayerTest(TestCase):
    def test_config_round_trip_checkpoint_and_training_steps(self):
        def call(tower, features, training):
            return tower(features["items"], features["mask"], training=training)

        self.run_layer_test(SequenceQueryTower, dict(TINY, dropout=0.1), call, {"items": ITEMS, "mask": MASK})

    def test_config_holds_every_argument(self):
        args = dict(TINY, dropout=0.25, normalize=False)
        revived = self.run_serialization_test(SequenceQueryTower(**args, name="queries"))
        config = revived.get_config()
        self.assertEqual({k: config[k] for k in args}, args)
        self.assertEqual(revived.name, "queries")
        defaults = SequenceQueryTower(input_dim=8).get_config()
        self.assertEqual((defaults["output_dim"], defaults["intermediate_dim"]), (8, 32))


@pytest.mark.parametrize("args, message", [
    (dict(num_heads=3), "num_heads=3 does not divide input_dim=8"),
    (dict(max_length=0), "max_length must be a positive integer"),
    (dict(dropout=1.0), r"dropout must be in \[0, 1\)"),
    (dict(output_dim=2.5), "output_dim must be a positive integer"),
    (dict(num_layers=True), "num_layers must be a positive integer"),
])
def test_bad_arguments_say_what_is_wrong(args, message):
    with pytest.raises(ValueError, match=message):
        SequenceQueryTower(**{**TINY, **args})


def test_a_history_longer_than_max_length_is_refused():
    with pytest.raises(ValueError, match="has 7 positions but max_length=6"):
        _tower()(tf.zeros([1, 7, 8]), tf.ones([1, 7], tf.bool))


def test_outputs_are_causal():
    tower = _tower()
    full = np.ones_like(MASK)
    before = tower(ITEMS, full).numpy()
    noise = np.random.default_rng(5).normal(size=ITEMS.shape[::2]).astype("float32")
    for t in range(6):
        changed = ITEMS.copy()
        changed[:, t] += noise
        after = tower(changed, full).numpy()
        np.testing.assert_allclose(after[:, :t], before[:, :t], atol=1e-6)
        assert np.abs(after[:, t] - before[:, t]).max(axis=-1).min() > 1e-3, t


def test_padding_changes_no_real_output_and_padded_outputs_are_zero():
    tower = _tower()
    before = tower(ITEMS, MASK).numpy()
    changed = ITEMS.copy()
    changed[~MASK] = np.random.default_rng(1).normal(scale=10.0, size=changed[~MASK].shape)
    changed[0, 0] = np.nan  # NaN in padding must not leak either
    after = tower(changed, MASK).numpy()
    np.testing.assert_allclose(after[MASK], before[MASK], atol=1e-6)
    assert np.all(after[~MASK] == 0.0)
    np.testing.assert_allclose(np.linalg.norm(after[MASK], axis=-1), 1.0, atol=1e-5)


def test_last_is_the_output_at_the_newest_real_item():
    tower = _tower()
    mask = MASK.copy()
    mask[:, 5] = [False, False, True]  # newest real items at 4, 3 and 5
    outputs, last = tower(ITEMS, mask).numpy(), tower.last(ITEMS, mask).numpy()
    np.testing.assert_array_equal(last, outputs[np.arange(3), _newest(mask)])
    np.testing.assert_allclose(np.linalg.norm(last, axis=-1), 1.0, atol=1e-5)


def test_a_fully_padded_row_is_finite_zeros():
    tower = _tower()
    mask = MASK.copy()
    mask[1] = False
    outputs, last = tower(ITEMS, mask).numpy(), tower.last(ITEMS, mask).numpy()
    assert np.all(np.isfinite(outputs)) and np.all(np.isfinite(last))
    assert np.all(outputs[1] == 0) and np.all(last[1] == 0)
    np.testing.assert_allclose(np.linalg.norm(last[[0, 2]], axis=-1), 1.0, atol=1e-5)


def test_positions_count_from_the_newest_item():
    tower = _tower()
    history = ITEMS[0, :3]
    padding = np.random.default_rng(2).normal(size=(3, 8)).astype("float32")
    short = np.concatenate([padding[:1], history])[None]  # 4 positions, left-padded
    long = np.concatenate([padding, history])[None]  # 6 positions, left-padded
    gaps = np.stack([history[0], padding[0], history[1], padding[1], padding[2], history[2]])[None]
    last_short = tower.last(short, [[False, True, True, True]]).numpy()
    last_long = tower.last(long, [[False] * 3 + [True] * 3]).numpy()
    last_gaps = tower.last(gaps, [[True, False, True, False, False, True]]).numpy()
    np.testing.assert_allclose(last_long, last_short, atol=1e-5)
    np.testing.assert_allclose(last_gaps, last_short, atol=1e-5)
    # Right padding too: positions count real items, not slots.
    right = tower.last(np.concatenate([history, padding[:1]])[None], [[True, True, True, False]]).numpy()
    np.testing.assert_allclose(right, last_short, atol=1e-5)


def test_user_vectors_are_added_at_every_position():
    tower = _tower()
    plain = tower(ITEMS, MASK).numpy()
    np.testing.assert_allclose(tower(ITEMS, MASK, user_vectors=tf.zeros([3, 8])).numpy(), plain, atol=1e-6)
    user = np.random.default_rng(6).normal(size=(3, 8)).astype("float32")
    shifted = tower(ITEMS, MASK, user_vectors=user).numpy()
    assert np.abs(shifted[MASK] - plain[MASK]).max(axis=-1).min() > 1e-3
    # The same as moving every real item by the user's vector.
    moved = tower(ITEMS + user[:, None], MASK).numpy()
    np.testing.assert_allclose(shifted[MASK], moved[MASK], atol=1e-5)


def test_time_vectors_move_each_query_before_it_is_normalised():
    tower = _tower(normalize=False)
    plain = tower(ITEMS, MASK).numpy()
    time = np.random.default_rng(7).normal(size=(3, 6, 4)).astype("float32")
    moved = tower(ITEMS, MASK, time_vectors=time).numpy()
    np.testing.assert_allclose(moved[MASK], plain[MASK] + time[MASK], atol=1e-5)
    assert not moved[~MASK].any()  # padding stays zero
    # Serving: one request time per row, for the query after the newest item.
    np.testing.assert_allclose(tower.last(ITEMS, MASK, time_vectors=time[:, 0]).numpy(),
                               tower.last(ITEMS, MASK).numpy() + time[:, 0], atol=1e-5)
    normalized = _tower()
    queries = normalized(ITEMS, MASK, time_vectors=time).numpy()
    np.testing.assert_allclose(np.linalg.norm(queries[MASK], axis=-1), 1.0, atol=1e-5)


# ----------------------------------------------------------------------------- training

NUM_ITEMS, SEQUENCE = 8, 6
SUCCESSOR = np.random.default_rng(3).permutation(NUM_ITEMS)  # the rule: item i is followed by SUCCESSOR[i]


def _successor_sequences(count, seed):
    """Sequences that follow SUCCESSOR from a random start, left-padded to random lengths."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((count, SEQUENCE), np.int32)
    ids[:, 0] = rng.integers(0, NUM_ITEMS, count)
    for t in range(1, SEQUENCE):
        ids[:, t] = SUCCESSOR[ids[:, t - 1]]
    mask = np.arange(SEQUENCE)[None] >= rng.integers(0, SEQUENCE - 1, count)[:, None]
    return {"ids": ids, "mask": mask}


class _NextItemModel(tfrs.Model):
    """SASRec's objective: at every position, softmax over the catalogue with the next item as label."""

    def __init__(self, tower, item_vectors):
        super().__init__()
        self.tower, self.item_vectors = tower, tf.constant(item_vectors)

    def compute_loss(self, features, training=False):
        ids, mask = features["ids"], features["mask"]
        queries = self.tower(tf.gather(self.item_vectors, ids), mask, training=training)
        logits = tf.einsum("bnd,id->bni", queries[:, :-1], self.item_vectors) / 0.1
        losses = tf.keras.losses.sparse_categorical_crossentropy(ids[:, 1:], logits, from_logits=True)
        targets = tf.cast(mask[:, :-1] & mask[:, 1:], tf.float32)  # a real item and a real next one
        return tf.reduce_sum(losses * targets) / tf.reduce_sum(targets)


def test_training_learns_the_next_item_rule_and_moves_the_keras_hub_weights():
    tower = _tower(input_dim=16, output_dim=16, num_layers=1, intermediate_dim=32, dropout=0.1)
    item_vectors = np.random.default_rng(4).normal(size=(NUM_ITEMS, 16)).astype("float32")
    model = _NextItemModel(tower, item_vectors / np.linalg.norm(item_vectors, axis=1, keepdims=True))
    block_weights = [v.value for v in tower.blocks[0].trainable_weights]
    assert {id(v) for v in block_weights} <= {id(v) for v in tower.trainable_weights}
    start = [v.numpy() for v in block_weights]
    held_out = {k: tf.constant(v) for k, v in _successor_sequences(256, seed=5).items()}
    before = float(model.compute_loss(held_out))

    model.compile(optimizer=tf.keras.optimizers.Adam(0.01))
    train = tf.data.Dataset.from_tensor_slices(_successor_sequences(2048, seed=6)).batch(64).repeat()
    model.fit(train, steps_per_epoch=300, epochs=1, verbose=0)

    after = float(model.compute_loss(held_out))
    assert after < before / 100, (before, after)  # measured: 3.2 -> 0.0007
    queries = tower(tf.gather(model.item_vectors, held_out["ids"]), held_out["mask"])[:, :-1]
    predicted = tf.argmax(tf.einsum("bnd,id->bni", queries, model.item_vectors), axis=-1).numpy()
    targets = (held_out["mask"][:, :-1] & held_out["mask"][:, 1:]).numpy()
    np.testing.assert_array_equal(predicted[targets], held_out["ids"].numpy()[:, 1:][targets])
    moved = [not np.allclose(v.numpy(), s) for v, s in zip(block_weights, start)]
    assert all(moved), [v.name for v, m in zip(tower.blocks[0].trainable_weights, moved) if not m]


# ----------------------------------------------------------------------------- persistence


class _Wrapped(tf.keras.Model):
    def __init__(self, tower):
        super().__init__()
        self.tower = tower

    def call(self, inputs):
        return self.tower(inputs["items"], inputs["mask"])


@pytest.mark.parametrize("suffix", ["ckpt", "weights.h5"])
def test_save_weights_load_weights_into_a_fresh_twin(tmp_path, suffix):
    inputs = {"items": tf.constant(ITEMS), "mask": tf.constant(MASK)}
    model, twin = _Wrapped(_tower(0)), _Wrapped(_tower(1))
    expected = model(inputs).numpy()
    assert not np.allclose(twin(inputs).numpy(), expected)
    model.save_weights(str(tmp_path / f"model.{suffix}"))
    twin.load_weights(str(tmp_path / f"model.{suffix}"))
    np.testing.assert_array_equal(twin(inputs).numpy(), expected)


def test_weights_of_another_config_are_refused_with_the_fix(tmp_path):
    inputs = {"items": tf.constant(ITEMS), "mask": tf.constant(MASK)}
    model = _Wrapped(_tower())
    model(inputs)
    model.save_weights(str(tmp_path / "model.weights.h5"))
    # The tower's file entry: 16 per block and the positions (its tf-keras sublayers have their own).
    for overrides, message in [(dict(num_layers=1), "holds 33 weights but this SequenceQueryTower has 17"),
                               (dict(intermediate_dim=12), r"has shape \(8, 16\), this SequenceQueryTower expects")]:
        other = _Wrapped(_tower(**overrides))
        other(inputs)
        with pytest.raises(ValueError, match=message + ".*config it was saved with"):
            other.load_weights(str(tmp_path / "model.weights.h5"))


def test_savedmodel_stores_each_variable_once_and_reloads(tmp_path):
    tower = _tower(dropout=0.1)
    module = tf.Module()
    module.tower = tower
    module.last = tf.function(
        lambda items, mask: {"query": tower.last(items, mask)},
        input_signature=[tf.TensorSpec([None, 6, 8], tf.float32), tf.TensorSpec([None, 6], tf.bool)],
    )
    expected = tower.last(ITEMS, MASK).numpy()
    tf.saved_model.save(module, str(tmp_path / "model"), signatures={"serving_default": module.last})

    checkpoint = str(tmp_path / "model" / "variables" / "variables")
    values = {name: tf.train.load_variable(checkpoint, name)
              for name, _ in tf.train.list_variables(checkpoint) if name.endswith("VARIABLE_VALUE")}
    # 2 blocks x 16, positions, final norm x 2, projection x 2; more if the blocks' were stored twice.
    assert len(values) == len(tower.weights) == 37, sorted(values)
    assert sum(v.size for v in values.values()) == sum(int(np.prod(w.shape)) for w in tower.weights)
    reloaded = tf.saved_model.load(str(tmp_path / "model"))
    query = reloaded.signatures["serving_default"](items=tf.constant(ITEMS), mask=tf.constant(MASK))["query"]
    np.testing.assert_allclose(query.numpy(), expected, atol=1e-6)


# ----------------------------------------------------------------------------- precision and XLA


def test_mixed_bfloat16_follows_the_global_policy_and_matches_float32():
    plain = _tower()
    tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = _tower()
        mixed.set_weights(plain.get_weights())
        outputs, last = mixed(ITEMS, MASK).numpy(), mixed.last(ITEMS, MASK).numpy()
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")
    assert mixed.blocks[0].compute_dtype == "bfloat16" and mixed.projection.compute_dtype == "bfloat16"
    assert outputs.dtype == np.float32 and np.all(np.isfinite(outputs)) and np.all(np.isfinite(last))
    np.testing.assert_allclose(outputs, plain(ITEMS, MASK).numpy(), atol=0.06)
    assert np.all(outputs[~MASK] == 0)


def test_jit_compile_matches_eager():
    tower = _tower()
    call = tf.function(lambda items, mask: (tower(items, mask), tower.last(items, mask)), jit_compile=True)
    outputs, last = call(tf.constant(ITEMS), tf.constant(MASK))
    np.testing.assert_allclose(outputs.numpy(), tower(ITEMS, MASK).numpy(), atol=1e-5)
    np.testing.assert_allclose(last.numpy(), tower.last(ITEMS, MASK).numpy(), atol=1e-5)
    assert np.all(np.isfinite(outputs.numpy()))
