"""TF Serving's JSON tensor conventions, without a server."""

import numpy as np
import pytest
import tensorflow as tf

from tfllmrec.serving import _json_tensor as jt

SPECS = {"user_id": tf.TensorSpec([None], tf.string), "k": tf.TensorSpec([], tf.int32)}
DEFAULTS = {"k": np.int32(10)}


def decode(document, specs=SPECS, defaults=DEFAULTS):
    return jt.decode_inputs(document, specs, defaults, "serving_default")


def test_row_format_batches_and_passes_a_shared_scalar_once():
    inputs, row = decode({"instances": [{"user_id": "a", "k": 2}, {"user_id": "b", "k": 2}]})
    assert row is True
    assert inputs["user_id"].tolist() == [b"a", b"b"] and inputs["k"].shape == () and inputs["k"] == 2


def test_row_format_stacks_per_instance_tensors():
    specs = {"x": tf.TensorSpec([None, 2], tf.float32), "y": tf.TensorSpec([None], tf.int64)}
    inputs, _ = decode({"instances": [{"x": [1, 2.5], "y": 1}, {"x": [3, 4], "y": 2}]}, specs, {})
    assert inputs["x"].dtype == np.float32 and inputs["x"].tolist() == [[1, 2.5], [3, 4]]
    assert inputs["y"].dtype == np.int64 and inputs["y"].tolist() == [1, 2]
    with pytest.raises(tf.errors.InvalidArgumentError, match="instance 1"):
        decode({"instances": [{"x": [1, 2], "y": 1}, {"x": [3], "y": 2}]}, specs, {})


def test_columnar_bare_value_needs_a_single_required_input():
    inputs, row = decode({"inputs": ["a"]})
    assert row is False and list(inputs) == ["user_id"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="plain value/list"):
        decode({"inputs": ["a"]}, SPECS, {})


def test_b64_input_is_decoded():
    inputs, _ = decode({"inputs": {"user_id": [{"b64": "/wA="}]}})
    assert inputs["user_id"].tolist() == [b"\xff\x00"]


@pytest.mark.parametrize("dtype, value", [
    (tf.float32, 2 ** 24 + 1),    # no exact float32
    (tf.float32, 1e300),
    (tf.int8, 300),
    (tf.uint8, -1),
    (tf.int64, 1.0),
    (tf.bool, 1),
    (tf.string, None),
])
def test_values_the_dtype_cannot_hold_exactly_are_refused(dtype, value):
    with pytest.raises(tf.errors.InvalidArgumentError):
        jt.to_array(value, tf.TensorSpec([], dtype), "input 'x'")


def test_nan_and_infinity_are_floats():
    array = jt.to_array([float("nan"), float("inf")], tf.TensorSpec([None], tf.float32), "input 'x'")
    assert np.isnan(array[0]) and np.isinf(array[1])


def test_outputs_text_bytes_and_short_floats():
    outputs = {
        "ids": np.array([[b"a", "é".encode()], [b"\xff", b"b"]], dtype=object),
        "raw_bytes": np.array([b"ab", b"cd"], dtype=object),
        "scores": np.array([[0.1, 1 / 3], [2.0, -0.5]], dtype=np.float32),
    }
    rows = jt.encode_outputs(outputs, row_format=True)["predictions"]
    assert rows[0] == {"ids": ["a", "é"], "raw_bytes": {"b64": "YWI="}, "scores": [0.1, 0.33333334]}
    assert rows[1]["ids"] == [{"b64": "/w=="}, "b"]  # not UTF-8: base64 keeps the JSON valid
    columns = jt.encode_outputs(outputs, row_format=False)["outputs"]
    assert columns["scores"] == [[0.1, 0.33333334], [2.0, -0.5]]


def test_row_format_needs_outputs_with_one_batch_size():
    with pytest.raises(tf.errors.InvalidArgumentError, match="no shape information"):
        jt.encode_outputs({"total": np.float32(1.0)}, row_format=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="inconsistent batch size"):
        jt.encode_outputs({"a": np.zeros(2), "b": np.zeros(3)}, row_format=True)
    assert jt.encode_outputs({"total": np.float32(1.5)}, row_format=False) == {"outputs": 1.5}
