"""`LoadedModel`: one SavedModel version in memory, as TF Serving sees it."""

import logging
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import saved_model_pb2

from tfllmrec.errors import ModelLoadError

logger = logging.getLogger("tfllmrec.serving")

DEFAULT_SIGNATURE = "serving_default"
SERVE_TAG = "serve"

_text_ops_ready = False


def _register_text_ops():
    """Imports TensorFlow Text once, before the first load.

    The text signatures call TF Text's ops (WordPiece, ...). Stock TF Serving
    links those kernels; in Python they only exist once `tensorflow_text` is
    imported, and `tf.saved_model.load` fails on an unknown op otherwise.
    """
    global _text_ops_ready
    if _text_ops_ready:
        return
    try:
        import tensorflow_text  # noqa: F401
    except ImportError:
        # Models without text ops still load; the others fail with TF's own
        # "Op type not registered" error, which names the missing op.
        logger.warning("tensorflow_text is not installed: SavedModels that use its ops will not load.")
    _text_ops_ready = True


def _invalid_argument(message):
    return tf.errors.InvalidArgumentError(None, None, message)


def _signature_defs_as_json(signature_defs):
    """SignatureDefs as TF Serving's metadata endpoint prints them.

    TF Serving prints the protos with snake_case names and with fields left
    at their defaults (`"name": ""`, `"unknown_rank": false`), so clients
    may index those keys without checking for them.
    """
    out = {}
    for name, signature_def in signature_defs.items():
        try:
            out[name] = json_format.MessageToDict(
                signature_def, preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True)
        except TypeError:  # protobuf < 5.26 names the option differently
            out[name] = json_format.MessageToDict(
                signature_def, preserving_proto_field_name=True,
                including_default_value_fields=True)
    return out


def _serving_meta_graph(path):
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    if not proto.meta_graphs:
        raise ValueError(f"{path}/saved_model.pb holds no MetaGraph.")
    # TF Serving loads the MetaGraph tagged "serve"; TF2 exports hold just that one.
    for meta_graph in proto.meta_graphs:
        if SERVE_TAG in meta_graph.meta_info_def.tags:
            return meta_graph
    return proto.meta_graphs[0]


def _load_error(name, path, error):
    """A ModelLoadError saying why the version folder `path` did not load."""
    reason = (getattr(error, "message", None) or str(error)).strip().splitlines()
    cause = f"{type(error).__name__}: {reason[0] if reason else ''}"
    fix = (f"Fix: re-export the run (`tfllmrec export RUN_DIR --output {path.parent}` "
           f"writes a new, complete version) and delete {path}, or restore {path} "
           "from a full copy.")
    variables = path / "variables"
    if not variables.is_dir():
        problem = ("has saved_model.pb but no variables/ folder (the model's weights): "
                   "the version folder is incomplete, e.g. copied in part")
    elif not (variables / "variables.index").is_file():
        problem = "has a variables/ folder without variables.index: the version is incomplete"
    else:
        problem = "is not a loadable SavedModel (a truncated or corrupt file?)"
    return ModelLoadError(
        f"Model {name!r}: the version folder {path} {problem} ({cause}). {fix}")


class _Signature:
    """One callable signature: its function, input/output specs and defaults."""

    def __init__(self, name, function, signature_def):
        self.name = name
        self.function = function
        self.inputs = dict(function.structured_input_signature[1])
        self.outputs = dict(function.structured_outputs)
        # Loaded signature functions demand every input, defaults included:
        # the defaults live only in the SignatureDef, so the server fills them in.
        self.defaults = {}
        if signature_def is not None:
            for key, tensor_proto in signature_def.defaults.items():
                if key in self.inputs:
                    self.defaults[key] = tf.make_ndarray(tensor_proto)


class LoadedModel:
    """A loaded SavedModel version: its signatures, their specs and defaults.

    Holds the object `tf.saved_model.load` returns for as long as the version
    is referenced: a signature function whose loaded object was garbage
    collected fails, so a request that got this object keeps a working model
    even after the repository has moved on to a newer version.

    Args:
        name: str. The model's name (its folder under the models root).
        version: int. The version number (the version folder's name).
        path: str or Path. The version folder.
        module: the object `tf.saved_model.load(path)` returned.
        meta_graph: MetaGraphDef. The serving MetaGraph of `saved_model.pb`.

    Example:
    >>> model = LoadedModel.load("toy", 1, "saved_models/toy/1")
    >>> model.predict("serving_default", {"user_id": tf.constant(["u1"])})["item_ids"]
    array([[b'a', b'b', b'c']], dtype=object)
    """

    def __init__(self, name, version, path, module, meta_graph):
        self.name = name
        self.version = int(version)
        self.path = Path(path)
        self.module = module
        signature_defs = meta_graph.signature_def
        self._signatures = {
            key: _Signature(key, module.signatures[key], signature_defs.get(key))
            for key in module.signatures.keys()
        }
        self._signature_defs_json = _signature_defs_as_json(signature_defs)

    @classmethod
    def load(cls, name, version, path):
        """Loads the SavedModel at `path` (importing TensorFlow Text first).

        Args:
            name: str. The model's name.
            version: int. The version number.
            path: str or Path. The version folder.

        Returns:
            LoadedModel.

        Raises:
            ModelLoadError: the folder is not a complete, readable SavedModel
                (e.g. `variables/` is missing); the message names the folder,
                the cause and the fix.

        Example:
        >>> LoadedModel.load("toy", 1, "saved_models/toy/1").signature_names
        ['encode_items', 'serving_default']
        """
        _register_text_ops()
        path = Path(path)
        try:
            module = tf.saved_model.load(str(path))
            meta_graph = _serving_meta_graph(path)
        except Exception as error:  # noqa: BLE001  TF raises many types; all mean "cannot load"
            raise _load_error(name, path, error) from error
        return cls(name, version, path, module, meta_graph)

    @property
    def signature_names(self):
        """The callable signatures' names, sorted."""
        return sorted(self._signatures)

    def _signature(self, signature_name):
        signature_name = signature_name or DEFAULT_SIGNATURE
        if signature_name not in self._signatures:
            raise _invalid_argument(
                f'Serving signature name: "{signature_name}" not found in signature def. '
                f"Model {self.name} version {self.version} has: {', '.join(self.signature_names)}.")
        return self._signatures[signature_name]

    def input_specs(self, signature_name=DEFAULT_SIGNATURE):
        """{input name: tf.TensorSpec} of a signature.

        Raises:
            tf.errors.InvalidArgumentError: no such signature.
        """
        return dict(self._signature(signature_name).inputs)

    def output_specs(self, signature_name=DEFAULT_SIGNATURE):
        """{output name: tf.TensorSpec} of a signature."""
        return dict(self._signature(signature_name).outputs)

    def defaults(self, signature_name=DEFAULT_SIGNATURE):
        """{input name: np.ndarray}: the inputs a request may leave out."""
        return dict(self._signature(signature_name).defaults)

    def predict(self, signature_name, inputs):
        """Runs a signature; inputs left out take their SignatureDef default.

        Args:
            signature_name: str. "" or None means "serving_default".
            inputs: {input name: tf.Tensor or array}, of the signature's dtypes.

        Returns:
            {output name: np.ndarray}.

        Raises:
            tf.errors.InvalidArgumentError: unknown signature, unknown input,
                or a missing input that has no default.

        Example:
        >>> model.predict("encode_items", {"item_text": tf.constant(["red shoe"])})
        {'embedding': array([[8., 8., 8., 8.]], dtype=float32)}
        """
        signature = self._signature(signature_name)
        unknown = sorted(set(inputs) - set(signature.inputs))
        if unknown:
            raise _invalid_argument(
                f"Unknown input(s) {', '.join(map(repr, unknown))} for signature "
                f"'{signature.name}'; it takes: {', '.join(sorted(signature.inputs))}.")
        feed, missing = {}, []
        for key, spec in signature.inputs.items():
            if key in inputs:
                feed[key] = tf.convert_to_tensor(inputs[key], dtype=spec.dtype)
            elif key in signature.defaults:
                feed[key] = tf.constant(signature.defaults[key], dtype=spec.dtype)
            else:
                missing.append(key)
        if missing:
            raise _invalid_argument(
                f"Missing input(s) {', '.join(map(repr, sorted(missing)))} of signature "
                f"'{signature.name}', which have no default value.")
        outputs = signature.function(**feed)
        return {key: np.asarray(value.numpy()) for key, value in outputs.items()}

    def metadata(self):
        """The body of TF Serving's `GET /v1/models/NAME[/versions/N]/metadata`."""
        return {
            "model_spec": {"name": self.name, "signature_name": "", "version": str(self.version)},
            "metadata": {"signature_def": {"signature_def": self._signature_defs_json}},
        }
