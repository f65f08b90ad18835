"""The shared `TestCase` and tiny configs, in the manner of keras-hub's `tests/test_case.py`.

Every layer and model of tfllmrec gets the same three checks through
`run_layer_test` / `run_model_test`: its config round-trips (through JSON,
as a saved config would), saved weights restore it exactly into a freshly
built twin, and a few training steps lower its loss. The tiny configs keep
each check to a fraction of a second.
"""

import json
import shutil
import tempfile
import unittest
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfllmrec.recipes.run_folder import REVISIONS

# A catalogue of 8 items for 6 users, small enough to train in a few steps.
TINY_USERS, TINY_ITEMS, TINY_TEXT_DIM = 6, 8, 4
TINY_TEXT = np.random.default_rng(0).normal(size=(TINY_ITEMS, TINY_TEXT_DIM)).astype("float32")
TINY_HISTORIES = [[0, 1], [2, 3, 4], [5], [6, 7, 0], [], [1, 3]]
TINY_INTERACTIONS = {"user": np.array([0, 0, 1, 1, 2, 3, 4, 5], np.int32),
                     "item": np.array([1, 2, 3, 4, 5, 6, 7, 0], np.int32)}
TINY_IMPRESSIONS = {"user": np.array([0, 1, 2, 3], np.int32),
                    "candidates": np.array([[1, 4, 5], [3, 0, -1], [5, 2, 7], [6, 1, 2]], np.int32)}

TINY_TWO_TOWER = dict(num_users=TINY_USERS, num_items=TINY_ITEMS, text_dim=TINY_TEXT_DIM, embedding_dim=8,
                      text_hidden_dim=8, id_dropout=0.0, history_pooling="shared", max_history=3,
                      temperature=0.5)
TINY_ITEM_TOWER = dict(num_items=TINY_ITEMS, embedding_dim=8, text_dim=TINY_TEXT_DIM, text_hidden_dim=8)
TINY_USER_TOWER = dict(num_users=TINY_USERS, embedding_dim=TINY_TEXT_DIM, max_history=3)
TINY_NRMS = dict(num_users=TINY_USERS, num_items=TINY_ITEMS, text_dim=TINY_TEXT_DIM, news_dim=8, num_heads=2,
                 attention_hidden_dim=4, dropout=0.0, max_history=3)
TINY_TEXT_RANKING = dict(num_users=TINY_USERS, num_items=TINY_ITEMS, embedding_dim=8, text_dim=TINY_TEXT_DIM,
                         text_hidden_dim=8, hidden_units=(8,), max_history=3, l2=1e-4, objective="rating")


class _LayerModel(tfrs.Model):
    """A layer trained to move its outputs towards fixed targets (mean squared error)."""

    def __init__(self, layer, call, targets):
        super().__init__()
        self.layer, self.call_layer, self.targets = layer, call, tf.constant(targets)

    def compute_loss(self, features, training=False):
        outputs = tf.cast(self.call_layer(self.layer, features, training), tf.float32)
        return tf.reduce_mean(tf.square(outputs - self.targets))


class TestCase(unittest.TestCase):
    """Base class of the layer and model tests (plain unittest, so pytest collects only their tests)."""

    def run_serialization_test(self, instance):
        """`get_config` survives JSON and rebuilds an instance with the same config."""
        config = instance.get_config()
        revived = type(instance).from_config(json.loads(json.dumps(config)))
        self.assertEqual(json.dumps(revived.get_config(), sort_keys=True), json.dumps(config, sort_keys=True))
        return revived

    def run_saving_test(self, build, call):
        """Weights saved from one instance restore exactly into a twin built from another seed.

        Args:
            build: callable(seed) -> a built instance (its data filled in).
            call: callable(instance) -> output tensor.
        """
        original, twin = build(0), build(1)
        expected = call(original).numpy()
        self.assertFalse(np.allclose(call(twin).numpy(), expected), "two seeds built the same weights")
        path = tempfile.mkdtemp(prefix="tfllmrec-test-") + "/weights"
        if isinstance(original, tf.keras.Model):  # what the trainer writes
            original.save_weights(path)
            twin.load_weights(path).assert_existing_objects_matched()
        else:
            tf.train.Checkpoint(layer=original).write(path)
            tf.train.Checkpoint(layer=twin).read(path).assert_existing_objects_matched()
        np.testing.assert_array_equal(call(twin).numpy(), expected)

    def run_training_test(self, model, features, steps=20, learning_rate=0.05):
        """A few steps of `model.fit` on `features` lower `model.compute_loss`."""
        features = {k: tf.constant(v) for k, v in features.items()}
        model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate))
        before = float(model.compute_loss(features))
        model.fit(tf.data.Dataset.from_tensors(features).repeat(steps), verbose=0)
        after = float(model.compute_loss(features))
        self.assertLess(after, 0.9 * before, f"loss {before:.4f} -> {after:.4f}")

    def run_layer_test(self, cls, init_kwargs, call, features, prepare=None):
        """Config round trip, save and restore, and training steps of a tf-keras layer.

        Args:
            cls: the layer class.
            init_kwargs: dict. Its tiny config.
            call: callable(layer, features, training) -> output tensor.
            features: dict of arrays passed to `call`.
            prepare: callable(layer) or None. Fills the layer's data tables.
        """
        def build(seed):
            tf.keras.utils.set_random_seed(seed)
            layer = cls(**init_kwargs)
            if prepare:
                prepare(layer)
            call(layer, features, False)
            return layer

        self.run_serialization_test(build(0))
        self.run_saving_test(build, lambda layer: call(layer, features, False))
        self.run_layer_training_test(build(2), call, features)

    def run_layer_training_test(self, layer, call, features):
        """Training steps move a layer's outputs towards random targets."""
        targets = np.random.default_rng(2).normal(size=call(layer, features, False).shape).astype("float32")
        self.run_training_test(_LayerModel(layer, call, targets), features)

    def run_model_test(self, cls, init_kwargs, features, call, prepare=None):
        """Config round trip, save and restore, and training steps of a `tfrs.Model`.

        Args:
            features: dict of arrays: one batch for `compute_loss`.
            call: callable(model) -> an output tensor (e.g. scores).
        """
        def build(seed):
            tf.keras.utils.set_random_seed(seed)
            model = cls(**init_kwargs)
            if prepare:
                prepare(model)
            model.compute_loss({k: tf.constant(v) for k, v in features.items()})
            return model

        revived = self.run_serialization_test(build(0))
        self.assertIsInstance(revived, cls)
        self.run_saving_test(build, call)
        self.run_training_test(build(2), features)


def assert_reranked_shortlist(run, user_id, k, candidates):
    """`run.recommend_for_user(user_id, k)` of a `TrainedRun` with a reranker:
    the retrieved shortlist's `k` best by the reranker's own scores, returned
    in order, none of the user's seen items. Returns the ranked results."""
    user = run.user_index(user_id)
    ranked = run.recommend_for_user(user_id, k=k)
    retrieved = run.recommend_for_user(user_id, k=candidates, ranked=False)
    assert len(ranked) == k and len(retrieved) == candidates
    scores = [score for _, _, score in ranked]
    assert scores == sorted(scores, reverse=True)
    seen = {str(run.item_ids[i]) for i in run.seen[user]}
    assert seen and not seen & {item for item, _, _ in ranked}
    position = {item: i for i, item in enumerate(run.item_ids)}
    shortlist = np.array([[position[item] for item, _, _ in retrieved]], np.int32)
    reranked = run.ranker.score_candidates(tf.constant([user]), tf.constant(shortlist)).numpy()[0]
    best = np.argsort(-reranked, kind="stable")[:k]
    assert [item for item, _, _ in ranked] == [retrieved[i][0] for i in best]
    np.testing.assert_allclose(scores, reranked[best], atol=1e-6)
    return ranked


def interrupted_copy(run_dir, folder, phase):
    """A copy of a finished run folder as a run killed before `phase` was kept:
    no metrics.json, and `phase` missing from progress.json. Returns its path
    and the phases that stay done."""
    copy = Path(folder) / "interrupted"
    shutil.copytree(run_dir, copy)
    (copy / "metrics.json").unlink()
    progress = json.loads((copy / "progress.json").read_text())
    del progress[phase]
    (copy / "progress.json").write_text(json.dumps(progress))
    return copy, set(progress) - {REVISIONS}
