"""TF Serving's JSON <-> tensor conventions for the REST predict API.

Mirrors `tensorflow_serving/util/json_tensor.cc`: the row ("instances") and
columnar ("inputs") request formats, `{"b64": ...}` for binary strings, and
its strictness on types (no int for a string, no lossy float for an int).
Every client error raises `tf.errors.InvalidArgumentError`, which the server
answers with 400 and `{"error": message}`.
"""

import base64
import binascii
import json

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from tfllmrec.serving.loaded_model import DEFAULT_SIGNATURE

INSTANCES = "instances"
INPUTS = "inputs"
B64 = "b64"
# TF Serving (after Cloud ML Engine) writes string outputs named *_bytes as base64.
BYTES_SUFFIX = "_bytes"

_MANTISSA_BITS = {tf.float16: 11, tf.bfloat16: 8, tf.float32: 24, tf.float64: 53}


def _invalid(message):
    return tf.errors.InvalidArgumentError(None, None, message)


def dtype_name(dtype):
    """'DT_STRING', 'DT_FLOAT', ...: how TF Serving names a dtype."""
    return types_pb2.DataType.Name(tf.as_dtype(dtype).as_datatype_enum)


def shape_text(shape):
    """A TensorShape as a list with -1 for unknown sizes: `[-1, 4]`, `[]` for a scalar."""
    shape = tf.TensorShape(shape)
    if shape.rank is None:
        return "<unknown rank>"
    return "[" + ", ".join("-1" if d is None else str(d) for d in shape.as_list()) + "]"


def _short(value, limit=60):
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def _is_b64(value):
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(B64), str)


def _is_named_object(value):
    return isinstance(value, dict) and not _is_b64(value)


def parse_body(raw):
    """The request body as a JSON object.

    Example:
    >>> parse_body(b'{"instances": ["u1"]}')
    {'instances': ['u1']}
    """
    if not raw:
        raise _invalid("JSON Parse error: The document is empty")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and bad UTF-8 are ValueErrors
        raise _invalid(f"JSON Parse error: {error}") from None
    if not isinstance(document, dict):
        raise _invalid(f"JSON Value: {_short(document)} Is not object")
    return document


def signature_name(document):
    """The request's signature name; "serving_default" when absent or empty."""
    name = document.get("signature_name", DEFAULT_SIGNATURE)
    if not isinstance(name, str):
        raise _invalid(f"JSON Value: {_short(document)} not formatted correctly. "
                       "'signature_name' key must be a string value.")
    return name or DEFAULT_SIGNATURE


def _leaf(value, dtype, where):
    """One JSON scalar as a Python value of `dtype`, or an InvalidArgumentError."""
    def wrong(kind):
        return _invalid(f"{where}: expected {dtype_name(dtype)} values, got {kind} {_short(value)}.")

    if dtype == tf.string:
        if isinstance(value, str):
            try:
                return value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate escape such as "\ud800"
                raise _invalid(f"{where}: {_short(value)} is not valid Unicode text; "
                               "send binary data as {\"b64\": ...}.") from None
        if _is_b64(value):
            try:
                return base64.b64decode(value[B64], validate=True)
            except (binascii.Error, ValueError):
                raise _invalid(f"{where}: could not base64-decode {_short(value)}.") from None
        raise wrong(_json_kind(value))
    if dtype == tf.bool:
        if isinstance(value, bool):
            return value
        raise wrong(_json_kind(value))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise wrong(_json_kind(value))
    if dtype.is_integer:
        if not isinstance(value, int):
            raise wrong("the non-integer number")
        if not dtype.min <= value <= dtype.max:
            raise _invalid(f"{where}: {value} is out of the range of {dtype_name(dtype)}.")
        return value
    if dtype.is_floating:
        # TF Serving refuses values the float type cannot hold exactly
        # ("without loss of precision") rather than round them silently.
        bits = _MANTISSA_BITS.get(dtype, 53)
        if isinstance(value, int) and abs(value) > 2 ** bits - 1:
            raise _invalid(f"Cannot convert JSON value: {value} to {dtype_name(dtype)} "
                           f"without loss of precision ({where}).")
        if isinstance(value, float) and np.isfinite(value) and abs(value) > float(dtype.max):
            raise _invalid(f"Cannot convert JSON value: {value} to {dtype_name(dtype)} "
                           f"without loss of precision ({where}).")
        return value
    raise _invalid(f"{where}: JSON cannot carry {dtype_name(dtype)} values.")


def _json_kind(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "the boolean"
    if isinstance(value, (int, float)):
        return "the number"
    if isinstance(value, str):
        return "the string"
    if isinstance(value, list):
        return "the list"
    return "the object"


def _dense_shape(value):
    # Like TF Serving, the shape is read off the first element at each level;
    # every other list is then checked against it.
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _flatten(value, shape, level, dtype, where, out):
    if isinstance(value, list):
        if level >= len(shape) or len(value) != shape[level]:
            raise _invalid(f"{where}: ragged nested list: its first elements give shape "
                           f"{shape_text(shape)}, but a list at depth {level} does not fit it.")
        for item in value:
            _flatten(item, shape, level + 1, dtype, where, out)
        return
    if level != len(shape):
        raise _invalid(f"{where}: value {_short(value)} found at depth {level}, expected depth {len(shape)}.")
    out.append(_leaf(value, dtype, where))


def to_array(value, spec, where):
    """A JSON value as an np.ndarray of `spec`'s dtype, checked against its shape.

    Args:
        value: the decoded JSON value (scalar or nested lists).
        spec: tf.TensorSpec. The expected dtype and shape.
        where: str. Names the input in error messages ("input 'k'").

    Returns:
        np.ndarray (object array of bytes for strings).

    Example:
    >>> to_array([["a"], ["b"]], tf.TensorSpec([None, 1], tf.string), "input 'x'").shape
    (2, 1)
    """
    dtype = tf.as_dtype(spec.dtype)
    shape = _dense_shape(value)
    flat = []
    _flatten(value, shape, 0, dtype, where, flat)
    expected = tf.TensorShape(spec.shape)
    if not expected.is_compatible_with(shape):
        raise _invalid(f"{where}: expected {dtype_name(dtype)} of shape {shape_text(expected)}, "
                       f"got shape {shape_text(shape)}.")
    if dtype == tf.string:
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
    else:
        array = np.asarray(flat, dtype=dtype.as_numpy_dtype)
    return array.reshape(shape)


def _describe(spec):
    return f"{dtype_name(spec.dtype)} {shape_text(spec.shape)}"


def _single_input(specs, defaults):
    """The input a bare (unnamed) value feeds, or None if that is ambiguous.

    TF Serving takes a bare value only for single-input signatures; inputs
    that have a default do not count here, so `["u1"]` feeds `user_id` of
    `serving_default(user_id, k=10)`.
    """
    if len(specs) == 1:
        return next(iter(specs))
    required = [name for name in specs if name not in defaults]
    return required[0] if len(required) == 1 else None


def _check_known(names, specs, signature):
    unknown = sorted(set(names) - set(specs))
    if unknown:
        raise _invalid(
            f"Unknown input(s) {', '.join(map(repr, unknown))} for signature '{signature}'; "
            f"it takes: " + ", ".join(f"{n} ({_describe(s)})" for n, s in sorted(specs.items())) + ".")


def _check_complete(names, specs, defaults, signature):
    missing = sorted(n for n in specs if n not in names and n not in defaults)
    if missing:
        raise _invalid(
            f"Missing named input(s) {', '.join(map(repr, missing))} of signature '{signature}' "
            "(they have no default value): "
            + ", ".join(f"{n} ({_describe(specs[n])})" for n in missing) + ".")


def _batch(name, spec, values):
    """Stacks one input's per-instance values along a new axis 0."""
    shape = tf.TensorShape(spec.shape)
    if shape.rank == 0:
        # A scalar input (like `k`) has no batch axis: it is passed once, so
        # every instance must agree on it.
        arrays = [to_array(v, spec, f"instance {i}, input '{name}'") for i, v in enumerate(values)]
        for i, array in enumerate(arrays[1:], start=1):
            if not np.array_equal(array, arrays[0]):
                raise _invalid(
                    f"Input '{name}' is a scalar ({_describe(spec)}) and cannot be batched: "
                    f"every instance must give it the same value, but instance 0 has "
                    f"{_short(values[0])} and instance {i} has {_short(values[i])}. "
                    "Send separate requests, or use the columnar 'inputs' format.")
        return arrays[0]
    row_spec = tf.TensorSpec(shape[1:] if shape.rank is not None else None, spec.dtype)
    arrays = [to_array(v, row_spec, f"instance {i}, input '{name}'") for i, v in enumerate(values)]
    for i, array in enumerate(arrays[1:], start=1):
        if array.shape != arrays[0].shape:
            raise _invalid(f"Input '{name}': instance {i} has shape {list(array.shape)} but instance 0 "
                           f"has {list(arrays[0].shape)}; instances are stacked, so they must match.")
    stacked = np.stack(arrays)
    if not shape.is_compatible_with(stacked.shape):
        raise _invalid(f"Input '{name}': expected shape {shape_text(shape)}, "
                       f"the {len(values)} instances make {shape_text(stacked.shape)}.")
    return stacked


def decode_inputs(document, specs, defaults, signature):
    """The input tensors of a predict request, and whether it was in row format.

    Args:
        document: dict. The parsed request body.
        specs: {input name: tf.TensorSpec} of the signature.
        defaults: {input name: value}: inputs the request may leave out.
        signature: str. The signature's name, for messages.

    Returns:
        ({input name: np.ndarray}, row_format: bool).

    Example:
    >>> specs = {"user_id": tf.TensorSpec([None], tf.string), "k": tf.TensorSpec([], tf.int32)}
    >>> decode_inputs({"instances": ["u1", "u2"]}, specs, {"k": 10}, "serving_default")
    ({'user_id': array([b'u1', b'u2'], dtype=object)}, True)
    """
    has_instances, has_inputs = INSTANCES in document, INPUTS in document
    if has_instances and has_inputs:
        raise _invalid(f"JSON Value: {_short(document)} Not formatted correctly expecting only "
                       "one of 'inputs' or 'instances' keys to exist")
    if not has_instances and not has_inputs:
        raise _invalid("Missing 'inputs' or 'instances' key")
    single = _single_input(specs, defaults)

    if has_inputs:
        value = document[INPUTS]
        if _is_named_object(value):
            _check_known(value, specs, signature)
            _check_complete(value, specs, defaults, signature)
            return {n: to_array(v, specs[n], f"input '{n}'") for n, v in value.items()}, False
        if single is None:
            raise _invalid(
                "inputs is a plain value/list, but expecting an object as multiple input tensors "
                f"required as per signature '{signature}': "
                + ", ".join(f"{n} ({_describe(s)})" for n, s in sorted(specs.items())) + ".")
        return {single: to_array(value, specs[single], f"input '{single}'")}, False

    rows = document[INSTANCES]
    if not isinstance(rows, list):
        raise _invalid(f"JSON Value: {_short(document)} Excepting 'instances' to be an list/array")
    if not rows:
        raise _invalid(f"JSON Value: {_short(document)} No values in 'instances' array")
    if _is_named_object(rows[0]):
        names = set(rows[0])
        for i, row in enumerate(rows):
            if not _is_named_object(row):
                raise _invalid(f"Expecting object but got {_json_kind(row)} at item {i} of 'instances'.")
            if set(row) != names:
                raise _invalid(
                    f"Failed to process element: {i} of 'instances' list. JSON object: {_short(row)} "
                    f"keys must be equal to those of element 0: {', '.join(sorted(names))}.")
        _check_known(names, specs, signature)
        _check_complete(names, specs, defaults, signature)
        return {n: _batch(n, specs[n], [row[n] for row in rows]) for n in names}, True
    if single is None:
        raise _invalid(
            "instances is a plain list, but expecting list of objects as multiple input tensors "
            f"required as per signature '{signature}': "
            + ", ".join(f"{n} ({_describe(s)})" for n, s in sorted(specs.items())) + ".")
    for i, row in enumerate(rows):
        if _is_named_object(row):
            raise _invalid(f"Expecting value/list but got object at item {i} of 'instances'.")
    return {single: _batch(single, specs[single], rows)}, True


def _text_or_b64(value, as_bytes):
    if not as_bytes:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            pass  # raw bytes would make invalid JSON
    return {B64: base64.b64encode(value).decode("ascii")}


def _map_nested(fn, value):
    if isinstance(value, list):
        return [_map_nested(fn, v) for v in value]
    return fn(value)


def _shortest_float(x):
    # float32 printed as its shortest round-trip text (0.1, not 0.10000000149011612).
    return float(str(np.float32(x)))


def to_json_value(array, name):
    """An output array as nested lists of JSON values.

    Example:
    >>> to_json_value(np.array([b"a", b"\\xff"], dtype=object), "ids")
    ['a', {'b64': '/w=='}]
    """
    array = np.asarray(array)
    if array.dtype == object or array.dtype.kind in "SU":
        as_bytes = name.endswith(BYTES_SUFFIX)
        return _map_nested(
            lambda v: _text_or_b64(v if isinstance(v, bytes) else str(v).encode("utf-8"), as_bytes),
            array.tolist())
    if array.dtype.kind == "f" or array.dtype.name == "bfloat16":
        if array.dtype == np.float64:
            return array.tolist()
        return _map_nested(_shortest_float, array.astype(np.float32).tolist())
    if array.dtype.kind in "biu":
        return array.tolist()
    raise _invalid(f"Output '{name}' has dtype {array.dtype}, which JSON cannot carry.")


def encode_outputs(outputs, row_format):
    """The response body for predict outputs in the request's format.

    Row format: `{"predictions": [...]}`, one object per instance (one value
    per instance when there is a single output). Columnar: `{"outputs": ...}`,
    an object of output name -> nested lists (the bare value for a single output).

    Example:
    >>> encode_outputs({"scores": np.array([[1.0]], np.float32)}, row_format=True)
    {'predictions': [[1.0]]}
    """
    if not outputs:
        raise _invalid("Cannot convert empty tensor map to JSON")
    names = sorted(outputs)
    if not row_format:
        if len(names) == 1:
            return {"outputs": to_json_value(outputs[names[0]], names[0])}
        return {"outputs": {n: to_json_value(outputs[n], n) for n in names}}
    batch = None
    for n in names:
        array = np.asarray(outputs[n])
        if array.ndim == 0:
            raise _invalid(f"Tensor name: {n} has no shape information: a scalar output cannot be "
                           "split into 'predictions' per instance; use the columnar 'inputs' format.")
        if batch is not None and array.shape[0] != batch:
            raise _invalid(f"Tensor name: {n} has inconsistent batch size: {array.shape[0]} expecting: "
                           f"{batch}; use the columnar 'inputs' format.")
        batch = array.shape[0]
    if len(names) == 1:
        return {"predictions": to_json_value(outputs[names[0]], names[0])}
    columns = {n: to_json_value(outputs[n], n) for n in names}
    return {"predictions": [{n: columns[n][i] for n in names} for i in range(batch)]}
