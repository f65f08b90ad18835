"""The SavedModels committed under saved_models/ load and answer as TF Serving would."""

import json
import os

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (TF Serving links these ops)

from conftest import REPO
from tfllmrec.export import classify_ops, saved_model_ops

VIDEO = REPO / "saved_models" / "video" / "1"


def test_video_export_is_small_and_documented():
    assert VIDEO.is_dir(), f"{VIDEO} is missing: export the video recipe there (see docs/serving.md)"
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(VIDEO) for f in fs)
    assert size <= 20 * 1024 * 1024, size
    metrics = json.loads((VIDEO / "metrics.json").read_text())
    assert metrics["recipe"] == "video" and "id_two_tower" in metrics["baselines"]
    assert (VIDEO / "config.yaml").is_file()
    assert (VIDEO / "assets.extra" / "tf_serving_warmup_requests").is_file()
    assert "name: 'video'" in (REPO / "saved_models" / "models.config").read_text()


def test_video_export_recommends_ten_movies_for_a_real_user():
    loaded = tf.saved_model.load(str(VIDEO))
    out = loaded.signatures["serving_default"](user_id=tf.constant(["196"]), k=tf.constant(10))
    ids = [x.decode() for x in out["item_ids"].numpy()[0]]
    catalogue = {x.decode() for x in loaded.item_ids.numpy()}
    assert len(ids) == 10 == len(set(ids)) and set(ids) <= catalogue
    assert len(catalogue) == 1682
    assert np.all(np.diff(out["scores"].numpy()[0]) <= 0)


def test_video_export_uses_only_stock_ops():
    groups = classify_ops(saved_model_ops(VIDEO))
    assert groups["other"] == []
