"""The SavedModels committed under saved_models/ load and answer as TF Serving would."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (TF Serving links these ops)

from conftest import REPO
from tfllmrec.export import classify_ops, saved_model_ops

ROOT = REPO / "saved_models"
# recipe -> (a real user of its data, catalogue size)
EXPECTED = {
    "video": ("196", 1682),
    "ecommerce": ("21", 2420),
    "music": ("2", 17632),
    "news": ("U3527", 4596),
}
COMMITTED = sorted(p.name for p in ROOT.iterdir() if p.is_dir())


def _latest(name):
    """The one version folder of a recipe: a new model is a new version (TF
    Serving only loads new version numbers), the older ones live in git."""
    versions = [p for p in (ROOT / name).iterdir() if p.is_dir()]
    assert len(versions) == 1 and versions[0].name.isdigit(), (
        f"saved_models/{name} should hold one numbered version, found {[p.name for p in versions]}")
    return versions[0]


def test_every_recipe_has_a_committed_export():
    assert COMMITTED == sorted(EXPECTED), (
        "saved_models/ should hold exactly one export per zoo recipe; export the missing ones "
        "with `tfllmrec export RUN --output saved_models/NAME --retrieval-only`."
    )


@pytest.mark.parametrize("name", COMMITTED)
def test_export_is_small_and_documented(name):
    version = _latest(name)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(version) for f in fs)
    assert size <= 20 * 1024 * 1024, size
    metrics = json.loads((version / "metrics.json").read_text())
    assert metrics["recipe"] == name and "id_two_tower" in metrics["baselines"]
    assert (version / "config.yaml").is_file()
    assert (version / "assets.extra" / "tf_serving_warmup_requests").is_file()
    assert f"name: '{name}'" in (ROOT / "models.config").read_text()
    assert classify_ops(saved_model_ops(version))["other"] == []


@pytest.mark.parametrize("name", COMMITTED)
def test_export_recommends_ten_items_for_a_real_user(name):
    loaded = tf.saved_model.load(str(_latest(name)))
    user, size = EXPECTED[name]
    out = loaded.signatures["serving_default"](user_id=tf.constant([user]))
    ids = [x.decode() for x in out["item_ids"].numpy()[0]]
    catalogue = {x.decode() for x in loaded.item_ids.numpy()}
    assert len(ids) == 10 == len(set(ids)) and set(ids) <= catalogue
    assert len(catalogue) == size
    assert np.all(np.diff(out["scores"].numpy()[0]) <= 0)
    # recommend_k: the same ranking, cut at the request's k.
    five = loaded.signatures["recommend_k"](user_id=tf.constant([user]), k=tf.constant(5))
    assert [x.decode() for x in five["item_ids"].numpy()[0]] == ids[:5]
