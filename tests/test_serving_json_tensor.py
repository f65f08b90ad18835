"""json_tensor.cc's conversions without a server, and the serving modules' docstring examples."""

import doctest
import importlib

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from tfllmrec.serving import _json_tensor as jt
from tfllmrec.serving._json_write import raw
from tfllmrec.serving import _json_write as jw

MODULES = ["_json_tensor", "_json_write", "loaded_model", "model_repository", "rest_server"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"tfllmrec.serving.{name}")
    failed, _ = doctest.testmod(module)
    assert failed == 0


def test_from_values_follows_tensor_from_proto():
    # tensor.cc FromProtoField: fewer values repeat the last, more are cut, none give zeros.
    assert jt.from_values([b"a"], [3], types_pb2.DT_STRING).tolist() == [b"a", b"a", b"a"]
    assert jt.from_values([1, 2, 3, 4], [2], types_pb2.DT_INT32).tolist() == [1, 2]
    assert jt.from_values([], [2], types_pb2.DT_FLOAT).tolist() == [0.0, 0.0]
    assert jt.from_values([-1], [1], types_pb2.DT_UINT8).tolist() == [255]  # int_val narrowed like a C cast


@pytest.mark.parametrize("body, dtype, message", [
    (b'{"inputs": 2.0}', types_pb2.DT_INT64, "JSON Value: 2.0 Type: Number is not of expected type: int64"),
    (b'{"inputs": 9223372036854775808}', types_pb2.DT_INT64,
     "JSON Value: 9223372036854775808 Type: Number is not of expected type: int64"),
    (b'{"inputs": -1}', types_pb2.DT_UINT32, "JSON Value: -1 Type: Number is not of expected type: uint32"),
    (b'{"inputs": 1}', types_pb2.DT_BOOL, "JSON Value: 1 Type: Number is not of expected type: bool"),
    (b'{"inputs": null}', types_pb2.DT_STRING, "JSON Value: null Type: Null is not of expected type: string"),
    (b'{"inputs": [{"b64": "AA", "x": 1}]}', types_pb2.DT_FLOAT,
     "JSON Value: {\n    \"b64\": \"AA\",\n    \"x\": 1\n} Type: Object is not of expected type: float"),
    (b'{"inputs": [[1], 2]}', types_pb2.DT_FLOAT, "JSON Value: 2 found at incorrect level: 2 in the JSON DOM. Expected at level: 2"),
    (b'{"inputs": [1, [2]]}', types_pb2.DT_FLOAT, "Encountered list at unexpected level: 1 expected < 1"),
    (b'{"inputs": [[1, 2], [3]]}', types_pb2.DT_FLOAT, "Encountered list at unexpected size: 1 at level: 1 expected size: 2"),
])
def test_values_a_dtype_cannot_take(body, dtype, message):
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        jt.fill_inputs(jt.parse(body), {"x": dtype})
    assert error.value.message == message


def test_numbers_a_dtype_takes():
    inputs, _ = jt.fill_inputs(jt.parse(b'{"inputs": [1, 2.5, NaN, -Infinity, 1e300]}'), {"x": types_pb2.DT_FLOAT})
    assert inputs["x"].dtype == np.float32 and str(inputs["x"].tolist()) == "[1.0, 2.5, nan, -inf, inf]"
    inputs, _ = jt.fill_inputs(jt.parse(b'{"inputs": [300, -129]}'), {"x": types_pb2.DT_INT8})
    assert inputs["x"].tolist() == [44, 127]  # IsInt() passes; FromProto's cast to int8 wraps
    with pytest.raises(tf.errors.UnimplementedError, match="^Conversion of JSON Value: 1 to type: half$"):
        jt.fill_inputs(jt.parse(b'{"inputs": [1]}'), {"x": types_pb2.DT_HALF})


def test_outputs_as_make_json_from_tensors_writes_them():
    outputs = {"ids": np.array([[b"a", "\u00e9".encode()], [b"\xff", b"b"]], dtype=object),
               "raw_bytes": np.array([b"ab", b"cd"], dtype=object),
               "scores": np.array([[0.1, 1 / 3], [2.0, 1e-5]], np.float32)}
    assert jw.predict_json(outputs, row_format=True) == (
        b'{"predictions": [{"ids": ["a", "\xc3\xa9"], "raw_bytes": {"b64": "YWI="}, "scores": [0.1, 0.333333343]}, '
        b'{"ids": ["\xff", "b"], "raw_bytes": {"b64": "Y2Q="}, "scores": [2.0, 1e-05]}]}')
    assert jw.predict_json({"n": np.array(7, np.int64)}, row_format=False) == b'{"outputs": 7}'
    assert jw.predict_json({"q": np.array([[0.1]], np.float64), "z": np.zeros([1, 0], np.int32)}, False) == (
        b'{"outputs": {"q": [[0.1]], "z": [[]]}}')
    with pytest.raises(tf.errors.InvalidArgumentError, match="^Tensor name: total has no shape information $"):
        jw.predict_json({"total": np.float32(1.0)}, row_format=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="^Tensor name: b has inconsistent batch size: 3 expecting: 2$"):
        jw.predict_json({"a": np.zeros(2), "b": np.zeros(3)}, row_format=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="^Failed to write JSON value for tensor type: half$"):
        jw.predict_json({"h": np.zeros(1, np.float16)}, row_format=False)


@pytest.mark.parametrize("body, message", [
    (b"   ", "JSON Parse error: The document is empty. at offset: 3"),
    (b"] x", "JSON Parse error: The document is empty. at offset: 0"),
    (b'{"a": }', "JSON Parse error: Expecting value at offset: 6"),
    (b'\xef\xbb\xbf{"a": 1', "JSON Parse error: Expecting ',' delimiter at offset: 10"),  # the BOM counts
    (b'{"a": "\xff\xfe', "JSON Parse error: Unterminated string starting at at offset: 6"),
])
def test_parse_errors_have_tf_servings_frame_and_byte_offsets(body, message):
    # json_tensor.cc ParseJson: "JSON Parse error: <reason> at offset: <byte>"; the empty-document reasons are
    # rapidjson's (its start state takes no closing bracket), the others Python's json module's.
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        jt.parse(body)
    assert error.value.message == message


def test_parse_keeps_raw_bytes_duplicates_and_ignores_trailing_text():
    doc = jt.parse(b'{"a": "\xff", "a": 2} {"b": 1}')
    assert doc == [("a", "\udcff"), ("a", 2)] and raw(doc.find("a")) == b"\xff"
