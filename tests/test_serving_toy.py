"""A tiny two-signature SavedModel for the serving tests (shared via import).

`serving_default(user_id: string [None], k: int32 [] = 3)` returns the top-k
of a fixed table for every user; `encode_items(item_text: string [None])`
returns a [batch, 4] embedding that depends on the text's length. Version 2
has other item ids, so a test can tell which version answered.
"""

import json
import shutil
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

TOY_ITEMS = {1: ["a", "b", "c", "d", "e"], 2: ["v2-a", "v2-b", "v2-c", "v2-d", "v2-e"]}
TOY_SCORES = [5.0, 4.0, 3.0, 2.0, 1.0]
TOY_EMBEDDING = {1: [1.0, 0.5, 0.25, 0.0], 2: [2.0, 1.0, 0.5, 0.0]}


class ToyModule(tf.Module):
    def __init__(self, version):
        super().__init__(name="toy")
        self.items = tf.Variable(np.array(TOY_ITEMS[version], dtype=object), dtype=tf.string, trainable=False)
        self.scores = tf.Variable(TOY_SCORES, dtype=tf.float32, trainable=False)
        self.direction = tf.Variable(TOY_EMBEDDING[version], dtype=tf.float32, trainable=False)

    # The Python default makes tf.saved_model.save record a SignatureDef default for k.
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="user_id"),
                                  tf.TensorSpec([], tf.int32, name="k")])
    def serving_default(self, user_id, k=tf.constant(3)):
        batch = tf.shape(user_id)[0]
        return {"item_ids": tf.tile(self.items[None, :k], [batch, 1]),
                "scores": tf.tile(self.scores[None, :k], [batch, 1])}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="item_text")])
    def encode_items(self, item_text):
        length = tf.cast(tf.strings.length(item_text), tf.float32)
        return {"embedding": length[:, None] * self.direction[None, :]}


def save_toy_model(path, version):
    module = ToyModule(version)
    tf.saved_model.save(module, str(path), signatures={
        "serving_default": module.serving_default, "encode_items": module.encode_items})
    return path


def expected_recommendation(version, k=3):
    return {"item_ids": TOY_ITEMS[version][:k], "scores": TOY_SCORES[:k]}


def expected_embedding(version, text):
    return [len(text.encode("utf-8")) * x for x in TOY_EMBEDDING[version]]


@pytest.fixture(scope="session")
def toy_versions(tmp_path_factory):
    """{version: path}: toy SavedModels 1 and 2, saved once per session."""
    staging = tmp_path_factory.mktemp("toy_staging")
    return {version: save_toy_model(staging / str(version), version) for version in (1, 2)}


def make_root(tmp_path, toy_versions, versions=(1,)):
    """A models root holding the given toy versions under `toy/`."""
    root = tmp_path / "saved_models"
    for version in versions:
        shutil.copytree(toy_versions[version], root / "toy" / str(version))
    return root


def call(port, method, path, body=None, timeout=30):
    """(status, parsed JSON body) of one request; `body` is JSON-encoded unless bytes."""
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_toy_signature_records_the_default_k(toy_versions):
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((toy_versions[1] / "saved_model.pb").read_bytes())
    defaults = proto.meta_graphs[0].signature_def["serving_default"].defaults
    assert tf.make_ndarray(defaults["k"]) == 3
