"""TextEncoder behaviour on the tiny random BERT: shapes, options, graphs, config."""

import numpy as np
import pytest
import tensorflow as tf

from testing import TestCase
from tfllmrec.encoders import TextEncoder

TEXTS = ["red running shoe", "blue trail running shoe", "stainless steel chef knife"]


class TextEncoderTest(TestCase):
    """The shared checks; saving and restoring BERT's weights is test_persistence.py's."""

    def test_layer(self):
        encoder = TextEncoder.from_preset("tiny-random", sequence_length=16, trainable="top:1")
        self.run_serialization_test(encoder)
        self.run_layer_training_test(encoder, lambda layer, features, training: layer(features["text"], training=training),
                                     {"text": np.array(TEXTS)})


def test_output_shape_dtype_and_unit_norm(tiny_encoder):
    enc = tiny_encoder()
    out = enc(tf.constant(TEXTS))
    assert out.shape == (3, 32) and out.dtype == tf.float32
    np.testing.assert_allclose(np.linalg.norm(out.numpy(), axis=1), 1.0, atol=1e-5)
    assert enc.compute_output_shape(tf.TensorShape([None])).as_list() == [None, 32]


def test_projection_and_pooling_options(tiny_encoder):
    proj = tiny_encoder(output_dim=8, normalize=False)
    assert proj(tf.constant(TEXTS)).shape == (3, 8)
    assert proj.embedding_dim == 8
    mean = tiny_encoder(pooling="mean", normalize=False)(tf.constant(TEXTS)).numpy()
    cls = tiny_encoder(pooling="cls", normalize=False)(tf.constant(TEXTS)).numpy()
    assert not np.allclose(mean, cls)
    assert np.linalg.norm(mean, axis=1).std() > 0  # not normalised


def test_batch_padding_does_not_change_embeddings(tiny_encoder):
    # Each batch pads to its longest text: an embedding must not depend on
    # which other texts share its batch.
    enc = tiny_encoder()
    alone = enc(tf.constant(["red shoe"])).numpy()
    long_text = "a very long product description " * 10
    together = enc(tf.constant(["red shoe", long_text])).numpy()
    np.testing.assert_allclose(alone[0], together[0], atol=1e-5)


def test_edge_case_texts_encode(tiny_encoder):
    enc = tiny_encoder()
    texts = tf.constant(["", "x" * 20000, "Ünïcödé 🎧 推荐系统", b"bad \xff\xfe bytes"])
    out = enc(texts).numpy()
    assert out.shape == (4, 32)
    assert np.isfinite(out).all()
    # Over-long text is truncated to sequence_length tokens, not rejected.
    ids, mask = enc.tokenize(tf.constant(["word " * 500]))
    assert ids.shape[1] == 32 and int(mask.numpy().sum()) == 32


def test_python_list_input(tiny_encoder):
    enc = tiny_encoder()
    np.testing.assert_allclose(enc(TEXTS).numpy(), enc(tf.constant(TEXTS)).numpy(), atol=1e-6)


def test_works_in_tf_function_and_tf_data(tiny_encoder):
    enc = tiny_encoder()
    eager = enc(tf.constant(TEXTS)).numpy()
    graph = tf.function(lambda x: enc(x))(tf.constant(TEXTS)).numpy()
    ds = tf.data.Dataset.from_tensor_slices(TEXTS).batch(2).map(enc)
    mapped = np.concatenate([b.numpy() for b in ds])
    np.testing.assert_allclose(graph, eager, atol=1e-5)
    np.testing.assert_allclose(mapped, eager, atol=1e-5)


def test_encode_batches_and_keeps_order(tiny_encoder):
    enc = tiny_encoder()
    texts = [f"item number {i} " + "word " * (i % 7) for i in range(23)]
    batched = enc.encode(texts, batch_size=4)
    direct = enc(tf.constant(texts)).numpy()
    np.testing.assert_allclose(batched, direct, atol=1e-5)
    assert enc.encode([]).shape == (0, 32)


@pytest.mark.parametrize(
    "mode, trainable_blocks",
    [("none", []), ("top:1", [1]), ("top:2", [0, 1]), ("all", [0, 1])],
)
def test_trainable_weights_follow_mode(tiny_encoder, mode, trainable_blocks):
    enc = tiny_encoder(trainable=mode)
    trainable = {id(v) for v in enc.trainable_weights}
    for i, block in enumerate(enc._transformer_layers()):
        block_vars = {id(v.value) for v in block.weights}
        if i in trainable_blocks:
            assert block_vars <= trainable
        else:
            assert not block_vars & trainable
    embedding_vars = {id(v.value) for v in enc.backbone.get_layer("token_embedding").weights}
    assert bool(embedding_vars & trainable) == (mode == "all")
    total = len(enc.trainable_weights) + len(enc.non_trainable_weights)
    assert total == len(enc.backbone.weights)
    assert all(isinstance(v, tf.Variable) for v in enc.trainable_weights)


def test_layer_trainable_false_freezes_everything(tiny_encoder):
    enc = tiny_encoder(trainable="all", output_dim=4)
    enc(tf.constant(TEXTS))  # builds the projection
    enc.trainable = False
    assert enc.trainable_weights == []
    assert len(enc.non_trainable_weights) == len(enc.backbone.weights) + 2


def test_config_round_trip_rebuilds_identical_encoder(tiny_encoder):
    enc = tiny_encoder(trainable="top:1", pooling="cls", normalize=False, output_dim=8)
    config = enc.get_config()
    assert config["trainable"] == "top:1" and config["preset"] == "tiny-random"
    clone = TextEncoder.from_config(config)
    assert clone.get_config() == config
    for name in ("preset", "sequence_length", "pooling", "normalize", "output_dim"):
        assert getattr(clone, name) == config[name]
    assert clone.trainable_mode == "top:1"
    x = tf.constant(TEXTS)
    enc(x), clone(x)  # build the projections
    clone.projection.set_weights(enc.projection.get_weights())
    # tiny-random is seeded: the rebuilt backbone starts from the same weights.
    np.testing.assert_allclose(clone(x).numpy(), enc(x).numpy(), atol=1e-6)


def test_config_is_inside_a_tf_keras_model_config(tiny_encoder):
    inputs = tf.keras.Input(shape=(), dtype=tf.string)
    model = tf.keras.Model(inputs, tiny_encoder()(inputs))
    layer_config = model.get_config()["layers"][1]["config"]
    assert layer_config["preset"] == "tiny-random"
    assert layer_config["sequence_length"] == 32
