"""Writing JSON as TF Serving's rapidjson writer does (json_tensor.cc MakeJsonFromTensors(), MakeJsonFromStatus())."""

import base64
import math
import re

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2

_INTEGERS = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64)
_ESCAPE = re.compile(r'["\\\x00-\x1f]')
_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class JsonObject(list):
    """A parsed JSON object as its (key, value) pairs: rapidjson keeps duplicate keys."""

    def find(self, key, default=None):  # the first value, as rapidjson's FindMember() finds it
        return next((value for name, value in self if name == key), default)


def invalid(message):
    return tf.errors.InvalidArgumentError(None, None, message)


def raw(text):
    """The bytes of a parsed JSON string: bytes that were not UTF-8 come back as they were."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate from a \u escape, which rapidjson encodes as is
        return text.encode("utf-8", "surrogatepass")


def dtype_name(dtype):  # DataTypeString(): DT_FLOAT -> "float"
    return types_pb2.DataType.Name(dtype)[3:].lower()


def quote(text):  # as rapidjson writes a string: only '"', backslash and control characters escaped
    return '"' + _ESCAPE.sub(lambda m: _SHORT.get(m.group(), "\\u%04X" % ord(m.group())), text) + '"'


def _pretty(value, depth):
    if isinstance(value, JsonObject):
        items = ",".join(f"\n{'    ' * (depth + 1)}{quote(key)}: {_pretty(item, depth + 1)}" for key, item in value)
        return "{" + items + ("\n" + "    " * depth if value else "") + "}"
    if type(value) is list:
        return "[" + ", ".join(_pretty(item, depth + 1) for item in value) + "]"
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return quote(value) if isinstance(value, str) else "null" if value is None else str(value).lower()
    return repr(value).replace("e+", "e").replace("e-0", "e-")  # rapidjson writes 1e300 and 1e-7


def debug_string(value):
    """JsonValueToDebugString(): PrettyWriter with single-line arrays, cut at 256 bytes (TF Serving: at the
    first writer call past 256 bytes). `{"a": [1.5, 1e300]}` prints as `{\\n    "a": [1.5, 1e300]\\n}`."""
    return raw(_pretty(value, 0))[:256].decode("utf-8", "surrogateescape")


def _decimal(value, kind, digits):
    """WriteDecimal(): printf %g, or max_digits10 digits where %g does not round-trip; whole numbers get .0."""
    if math.isnan(value) or math.isinf(value):
        return "NaN" if math.isnan(value) else "-Infinity" if value < 0 else "Infinity"
    text = "%g" % value
    text = text if kind(float(text)) == kind(value) else "%.*g" % (digits, value)
    return text if "." in text or "e" in text else text + ".0"


def _tokens(name, array):
    """AddSingleValueAndAdvance() for each value of an output, in order."""
    values, kind = array.ravel().tolist(), array.dtype.type
    if kind in (np.float32, np.float64):
        cast, digits = (np.float32, 9) if kind is np.float32 else (float, 17)
        return [_decimal(value, cast, digits) for value in values]
    if kind is np.bool_ or kind in _INTEGERS:
        return [str(value).lower() for value in values]
    if kind is np.object_ and name.endswith("_bytes"):  # IsNamedTensorBytes()
        return ['{"b64": "%s"}' % base64.b64encode(value).decode() for value in values]
    if kind is np.object_:  # the bytes as they are, UTF-8 or not
        return [quote(value.decode("utf-8", "surrogateescape")) for value in values]
    raise invalid(f"Failed to write JSON value for tensor type: {dtype_name(tf.as_dtype(kind).as_datatype_enum)}")


def _nest(tokens, dims):
    if len(dims) < 2:
        return "[" + ", ".join(tokens) + "]" if dims else tokens[0]
    step = math.prod(dims[1:])
    return "[" + ", ".join(_nest(tokens[i * step:(i + 1) * step], dims[1:]) for i in range(dims[0])) + "]"


def _object(names, parts):
    return parts[0] if len(names) == 1 else "{" + ", ".join(f"{quote(n)}: {p}" for n, p in zip(names, parts)) + "}"


def predict_json(outputs, row_format):
    """MakeJsonFromTensors(): `{"predictions": [...]}` (row) or `{"outputs": ...}` (columnar), as bytes.

    >>> predict_json({"scores": np.array([[0.1, 1 / 3]], np.float32)}, row_format=True)
    b'{"predictions": [[0.1, 0.333333343]]}'
    """
    if not outputs:
        raise invalid("Cannot convert empty tensor map to JSON")
    names, shapes = sorted(outputs), {name: list(array.shape) for name, array in outputs.items()}
    if not row_format:
        return raw('{"outputs": ' + _object(names, [_nest(_tokens(n, outputs[n]), shapes[n]) for n in names]) + "}")
    for name in names:  # MakeRowFormatJsonFromTensors(): every output batched alike
        if not shapes[name]:
            raise invalid(f"Tensor name: {name} has no shape information ")
        if shapes[name][0] != shapes[names[0]][0]:
            raise invalid(f"Tensor name: {name} has inconsistent batch size: {shapes[name][0]} "
                          f"expecting: {shapes[names[0]][0]}")
    batch, rows = shapes[names[0]][0], {}
    for name in names:
        tokens, dims = _tokens(name, outputs[name]), shapes[name][1:]
        rows[name] = [_nest(tokens[i * math.prod(dims):(i + 1) * math.prod(dims)], dims) for i in range(batch)]
    return raw('{"predictions": [' + ", ".join(_object(names, [rows[n][i] for n in names]) for i in range(batch))
               + "]}")


def error_json(message):  # MakeJsonFromStatus()
    return raw('{\n    "error": ' + quote(message) + "\n}")
