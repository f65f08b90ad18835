"""Toy SavedModels for the serving tests, laid out as our exports will be (shared via import).

Every signature checks its inputs with `tf.ensure_shape`, as the exports do:
- `serving_default(user_id: string [None])`: the fixed top-3 of a 5-item table, for every user;
- `recommend_k(user_id: string [None], k: int32 [] = 3)`: the top-k, with a SignatureDef default for k;
- `top_k_unchecked(user_id, k = 3)`: the same, but k goes to `tf.math.top_k` unchecked, so a k of
  the wrong rank fails in TopKV2 itself ("k must be scalar");
- `encode_items(item_text: string [None])`: a [batch, 4] embedding scaled by the text's byte length.
Version 2 has other item ids, so a test can tell which version answered.
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
USER = tf.TensorSpec([None], tf.string, name="user_id")
K = tf.TensorSpec([], tf.int32, name="k")


class ToyModule(tf.Module):
    def __init__(self, version):
        super().__init__(name="toy")
        self.items = tf.Variable(np.array(TOY_ITEMS[version], dtype=object), dtype=tf.string, trainable=False)
        self.scores = tf.Variable(TOY_SCORES, dtype=tf.float32, trainable=False)
        self.direction = tf.Variable(TOY_EMBEDDING[version], dtype=tf.float32, trainable=False)

    def _top(self, user_id, k):
        scores, index = tf.math.top_k(self.scores, k)
        batch = tf.shape(user_id)[0]
        return {"item_ids": tf.tile(tf.gather(self.items, index)[None], [batch, 1]),
                "scores": tf.tile(scores[None], [batch, 1])}

    @tf.function(input_signature=[USER])
    def serving_default(self, user_id):
        return self._top(tf.ensure_shape(user_id, [None]), 3)

    # The Python default makes tf.saved_model.save record a SignatureDef default for k.
    @tf.function(input_signature=[USER, K])
    def recommend_k(self, user_id, k=tf.constant(3)):
        return self._top(tf.ensure_shape(user_id, [None]), tf.ensure_shape(k, []))

    @tf.function(input_signature=[USER, K])
    def top_k_unchecked(self, user_id, k=tf.constant(3)):
        return self._top(tf.ensure_shape(user_id, [None]), k)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="item_text")])
    def encode_items(self, item_text):
        length = tf.cast(tf.strings.length(tf.ensure_shape(item_text, [None])), tf.float32)
        return {"embedding": length[:, None] * self.direction[None, :]}


def save_toy_model(path, version):
    module = ToyModule(version)
    tf.saved_model.save(module, str(path), signatures={
        name: getattr(module, name) for name in ("serving_default", "recommend_k", "top_k_unchecked", "encode_items")})
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


def call(port, method, path, body=None, timeout=30, headers=None):
    """(status, raw body bytes) of one request; `body` is JSON-encoded unless bytes."""
    data = None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def call_json(port, method, path, body=None, **kwargs):
    status, raw = call(port, method, path, body, **kwargs)
    return status, json.loads(raw)


def test_toy_signatures_record_the_default_k_and_check_shapes(toy_versions):
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((toy_versions[1] / "saved_model.pb").read_bytes())
    signatures = proto.meta_graphs[0].signature_def
    assert tf.make_ndarray(signatures["recommend_k"].defaults["k"]) == 3
    assert tf.make_ndarray(signatures["top_k_unchecked"].defaults["k"]) == 3
    assert dict(signatures["serving_default"].defaults) == {}
    ops = {node.op for function in proto.meta_graphs[0].graph_def.library.function for node in function.node_def}
    assert {"EnsureShape", "TopKV2"} <= ops
