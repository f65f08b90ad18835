"""Reading a :predict body as TF Serving 2.20's json_tensor.cc does, after rapidjson 1.1.0's parse: NaN allowed,
nothing read after the first document, strings kept as raw bytes, duplicate keys kept (FindMember() takes the first).

>>> fill_inputs(parse(b'{"inputs": {"k": 2, "k": 3}} trailing text'), {"k": types_pb2.DT_INT32})
({'k': array(2, dtype=int32)}, False)
"""

import base64
import binascii
import json
import math

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import error_codes_pb2

from tfllmrec.serving._json_write import JsonObject, debug_string, dtype_name, invalid, raw

_MISSING = object()
_DECODER = json.JSONDecoder(object_pairs_hook=JsonObject)
_NUMBER = lambda v: type(v) in (int, float)  # noqa: E731  rapidjson's IsNumber()
_INT = lambda low, high: lambda v: type(v) is int and low <= v < high  # noqa: E731  IsInt(), IsInt64(), IsUint()...
_ACCEPTS = {types_pb2.DT_FLOAT: _NUMBER, types_pb2.DT_DOUBLE: _NUMBER, types_pb2.DT_INT64: _INT(-2**63, 2**63),
            types_pb2.DT_UINT32: _INT(0, 2**32), types_pb2.DT_UINT64: _INT(0, 2**64),
            types_pb2.DT_STRING: lambda v: type(v) is str, types_pb2.DT_BOOL: lambda v: type(v) is bool,
            **dict.fromkeys([types_pb2.DT_INT32, types_pb2.DT_INT16, types_pb2.DT_INT8, types_pb2.DT_UINT8],
                            _INT(-2**31, 2**31))}


def parse(body):
    """The body as a JSON object, as ParseJson() reads it."""
    if not body:
        raise invalid("JSON Parse error: The document is empty")
    text = body.decode("utf-8", "surrogateescape")  # keeps bytes that are not UTF-8
    start = 1 if text.startswith("\ufeff") else 0  # rapidjson's UTF-8 stream skips a BOM
    start += len(text[start:]) - len(text[start:].lstrip(" \t\n\r"))
    try:
        doc, _ = _DECODER.raw_decode(text, start)  # what follows is ignored: kParseStopWhenDoneFlag
    except json.JSONDecodeError as error:  # rapidjson words the reasons otherwise, but for an empty document
        empty = error.pos == start and text[start:start + 1] in ("", "]", "}", ",", ":")  # no value token first
        reason = "The document is empty." if empty else error.msg
        raise invalid(f"JSON Parse error: {reason} at offset: {len(raw(text[:error.pos]))}") from None
    if not isinstance(doc, JsonObject):
        raise invalid(f"JSON Value: {debug_string(doc)} Is not object")
    return doc


def _is_b64(value):
    return isinstance(value, JsonObject) and len(value) == 1 and type(value.find("b64")) is str


def _leaf(value, dtype):
    """One value, as AddValueToTensor() or JsonDecodeBase64Object() takes it."""
    if isinstance(value, JsonObject) and dtype == types_pb2.DT_STRING:
        if not _is_b64(value):
            raise invalid(f"JSON Value: {debug_string(value)} not formatted correctly for base64 data")
        encoded = raw(value.find("b64"))
        try:  # absl::Base64Unescape() takes the padding as optional
            return base64.b64decode(encoded + b"=" * (0 if b"=" in encoded else -len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise invalid("Unable to base64 decode") from None
    if isinstance(value, JsonObject) or not _ACCEPTS.get(dtype, lambda v: True)(value):
        kind = {JsonObject: "Object", list: "Array", type(None): "Null", bool: str(value), str: "String"}
        raise invalid(f"JSON Value: {debug_string(value)} Type: {kind.get(type(value), 'Number')} "
                      f"is not of expected type: {dtype_name(dtype)}")
    if dtype not in _ACCEPTS:
        raise tf.errors.UnimplementedError(
            None, None, f"Conversion of JSON Value: {debug_string(value)} to type: {dtype_name(dtype)}")
    return raw(value) if dtype == types_pb2.DT_STRING else value


def _fill(value, level, shape, dtype, out):
    """FillTensorProto(): appends the leaves of `value`, checking that it is dense."""
    if type(value) is not list:
        if level != len(shape):
            raise invalid(f"JSON Value: {debug_string(value)} found at incorrect level: {level + 1} in the JSON DOM. "
                          f"Expected at level: {len(shape)}")
        return out.append(_leaf(value, dtype))
    if level >= len(shape):
        raise invalid(f"Encountered list at unexpected level: {level} expected < {len(shape)}")
    if len(value) != shape[level]:
        raise invalid(f"Encountered list at unexpected size: {len(value)} at level: {level} "
                      f"expected size: {shape[level]}")
    for item in value:
        _fill(item, level + 1, shape, dtype, out)


def _shape(value):
    """GetDenseTensorShape(): the sizes along the first elements."""
    dims = []
    while type(value) is list:
        dims.append(len(value))
        value = value[0] if value else None
    return dims


def from_values(values, shape, dtype):
    """Tensor::FromProto() of typed values: too few repeat the last, too many are cut, none give zeros.

    >>> from_values([1, 300], [3], types_pb2.DT_INT8)
    array([ 1, 44, 44], dtype=int8)
    """
    np_dtype, count = tf.dtypes.as_dtype(dtype).as_numpy_dtype, math.prod(shape)
    zero = b"" if np_dtype is object else 0
    values = values[:count] + values[-1:] * (count - len(values)) if values else [zero] * count
    if np_dtype in (np.int8, np.int16, np.uint8, np.uint16):  # int_val holds int32s; the C cast wraps
        return np.array(values, np.int64).astype(np_dtype).reshape(shape)
    with np.errstate(over="ignore"):  # a double beyond float32 becomes inf, as static_cast<float> makes it
        return np.array(values, dtype=np_dtype).reshape(shape)


def _tensor(value, dtype):
    shape, values = _shape(value), []
    _fill(value, 0, shape, dtype, values)
    return from_values(values, shape, dtype)


def _instance_item(item, name, dtypes, values, shapes):
    """AddInstanceItem(): one instance's value for `name`, of the size and shape of the first instance's."""
    if name not in dtypes:
        raise invalid(f"JSON object: does not have named input: {name}")
    shape, out = _shape(item), values.setdefault(name, [])
    before = len(out)
    _fill(item, 0, shape, dtypes[name], out)
    first_size, first_shape = shapes.setdefault(name, (len(out) - before, shape))
    if first_size != len(out) - before:
        raise invalid(f"Expecting tensor size: {first_size} but got: {len(out) - before}")
    if first_shape != shape:
        raise invalid("Expecting shape [{}] but got: [{}]".format(*(",".join(map(str, dims)) for dims in
                                                                     (first_shape, shape))))


def _rows(instances, dtypes):
    """FillTensorMapFromInstancesList(): each input stacked over the instances."""
    if not isinstance(instances[0], JsonObject) and len(dtypes) > 1:
        raise invalid("instances is a plain list, but expecting list of objects as multiple input tensors required "
                      "as per tensorinfo_map")
    objects = isinstance(instances[0], JsonObject) and not _is_b64(instances[0])
    values, shapes = {}, {}
    for index, element in enumerate(instances):
        if objects != (isinstance(element, JsonObject) and not _is_b64(element)):
            raise invalid(f"Expecting {'object but got list' if objects else 'value/list but got object'} "
                          f"at item {index} of input list")
        for name, item in (element if objects else [(next(iter(dtypes)), element)]):
            try:
                _instance_item(item, name, dtypes, values, shapes)
            except tf.errors.OpError as error:
                status = f"{error_codes_pb2.Code.Name(error.error_code)}: {error.message}"  # absl::Status::ToString()
                raise invalid(f"Failed to process element: {index}{f' key: {name}' if objects else ''} of 'instances' "
                              f"list. Error: {status}") from None
        if objects and set(dtypes) != {name for name, _ in element}:
            raise invalid(f"Failed to process element: {index} of 'instances' list. JSON object: "
                          f"{debug_string(element)} keys must be equal to: {','.join(dtypes)}")
    return {name: from_values(values[name], [len(instances)] + shapes[name][1], dtypes[name]) for name in values}


def signature_name(doc):
    """FillSignature(): "" when the request names none."""
    name = doc.find("signature_name", "")
    if type(name) is not str:
        raise invalid(f"JSON Value: {debug_string(doc)} not formatted correctly. "
                      "'signature_name' key must be a string value.")
    return name


def fill_inputs(doc, dtypes):
    """FillPredictRequestFromJson(): ({input: array}, row format?) for a signature's {input: DataType}, inputs
    in sorted order (TF Serving walks a protobuf Map, whose order is unspecified)."""
    dtypes = dict(sorted(dtypes.items()))
    instances, inputs = doc.find("instances", _MISSING), doc.find("inputs", _MISSING)
    if instances is not _MISSING:
        problem = ("Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist "
                   if inputs is not _MISSING else "Expecting 'instances' to be an list/array"
                   if type(instances) is not list else None if instances else "No values in 'instances' array")
        if problem:
            raise invalid(f"JSON Value: {debug_string(doc)} {problem}")
        return _rows(instances, dtypes), True
    if inputs is _MISSING:
        raise invalid("Missing 'inputs' or 'instances' key")
    if not isinstance(inputs, JsonObject) or _is_b64(inputs):  # FillTensorMapFromInputsMap()
        if len(dtypes) > 1:
            raise invalid("inputs is a plain value/list, but expecting an object as multiple input tensors required "
                          "as per tensorinfo_map")
        return {name: _tensor(inputs, dtype) for name, dtype in dtypes.items()}, False
    tensors = {}
    for name, dtype in dtypes.items():
        if inputs.find(name, _MISSING) is _MISSING:  # only the signature's inputs are looked up
            raise invalid(f"Missing named input: {name} in 'inputs' object.")
        tensors[name] = _tensor(inputs.find(name), dtype)
    return tensors, False
