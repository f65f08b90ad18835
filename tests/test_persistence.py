"""Checkpoints, save_weights and SavedModel export keep BERT's weights exactly."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tfllmrec.export import atomic_dir, export_text_encoder

TEXTS = ["red running shoe", "", "café crème", "chef knife"]


def _perturb(encoder, seed):
    rng = np.random.default_rng(seed)
    for v in encoder.backbone.weights:
        v.assign(v.numpy() + rng.normal(0, 0.05, v.shape).astype("float32"))


def _assert_same_backbone(a, b):
    bad = [va.path for va, vb in zip(a.backbone.weights, b.backbone.weights) if not np.array_equal(va.numpy(), vb.numpy())]
    assert not bad, bad
    for va, vb in zip(a.backbone.weights, b.backbone.weights):
        np.testing.assert_array_equal(va.numpy(), vb.numpy())


def test_tf_train_checkpoint_restores_exactly(tiny_encoder, tmp_path):
    enc = tiny_encoder(trainable="all")
    _perturb(enc, 1)
    path = tf.train.Checkpoint(enc=enc).save(str(tmp_path / "ckpt"))
    other = tiny_encoder(trainable="all")
    tf.train.Checkpoint(enc=other).restore(path).assert_existing_objects_matched()
    _assert_same_backbone(enc, other)
    np.testing.assert_array_equal(enc(tf.constant(TEXTS)).numpy(), other(tf.constant(TEXTS)).numpy())


@pytest.mark.parametrize("suffix", ["weights", "h5", "weights.h5"])
def test_keras_save_weights_load_weights(tiny_encoder, tmp_path, suffix):
    def model_of(enc):
        inputs = tf.keras.Input(shape=(), dtype=tf.string)
        return tf.keras.Model(inputs, tf.keras.layers.Dense(3)(enc(inputs)))

    enc = tiny_encoder(trainable="top:1")
    model = model_of(enc)
    _perturb(enc, 2)
    model.save_weights(str(tmp_path / f"model.{suffix}"))
    other_enc = tiny_encoder(trainable="top:1")
    other = model_of(other_enc)
    other.load_weights(str(tmp_path / f"model.{suffix}"))
    _assert_same_backbone(enc, other_enc)
    x = tf.constant(TEXTS)
    np.testing.assert_array_equal(model(x).numpy(), other(x).numpy())


def test_savedmodel_reloads_in_fresh_process_and_is_not_doubled(tiny_encoder, tmp_path):
    enc = tiny_encoder(trainable="top:1", output_dim=16)
    _perturb(enc, 3)
    expected = enc(tf.constant(TEXTS)).numpy()
    export = tmp_path / "encoder" / "1"
    export_text_encoder(enc, export)

    params = sum(int(np.prod(v.shape)) for v in enc.backbone.weights + enc.projection.weights)
    stored = sum(f.stat().st_size for f in (export / "variables").iterdir())
    assert stored <= 1.15 * params * 4, (stored, params * 4)

    np.save(tmp_path / "texts.npy", np.array(TEXTS, dtype=object), allow_pickle=True)
    script = textwrap.dedent(
        f"""
        import numpy as np, tensorflow as tf
        import tensorflow_text  # registers the tokenizer's ops, as TF Serving links them
        texts = np.load({str(tmp_path / 'texts.npy')!r}, allow_pickle=True)
        model = tf.saved_model.load({str(export)!r})
        out = model.signatures["serving_default"](text=tf.constant(list(texts)))
        np.save({str(tmp_path / 'out.npy')!r}, out["embedding"].numpy())
        """
    )
    # A fresh interpreter that never imports tfllmrec: what TF Serving sees.
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    reloaded = np.load(tmp_path / "out.npy")
    assert np.abs(reloaded - expected).max() < 1e-5


def test_export_refuses_to_overwrite_and_leaves_nothing_on_failure(tiny_encoder, tmp_path):
    target = tmp_path / "m" / "1"
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "partial").write_text("half")
            raise RuntimeError("killed midway")
    assert not target.exists()
    assert os.listdir(tmp_path / "m") == []
    target.mkdir(parents=True)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_text_encoder(tiny_encoder(), target)
