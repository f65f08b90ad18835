"""`LoadedModel`: one SavedModel version, loaded and run as TF Serving's C++ session does."""

from pathlib import Path

import tensorflow as tf
from tensorflow.core.framework import tensor_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, prediction_log_pb2

from tfllmrec.serving._json_write import invalid

_MAX_WARMUP_RECORDS = 1000  # saved_model_warmup_util.h WarmupConsts::kMaxNumRecords


def _sorted_names(names):
    return ",".join(sorted(names))


class LoadedModel:
    """One SavedModel version in a graph-mode session, as TF Serving's session loader holds it: `load()` loads
    the "serve" MetaGraph and replays the warm-up records; `predict()` runs a signature by its tensor names."""

    def __init__(self, name, version, path, session, signature_defs):
        self.name, self.version, self.path, self.signature_defs = name, int(version), Path(path), signature_defs
        self._session, self._outputs = session, {}

    @classmethod
    def load(cls, name, version, path):
        """Loads a version folder and replays its warm-up records; a failing record fails the load."""
        session = tf.compat.v1.Session(graph=tf.Graph())
        try:
            meta_graph = tf.compat.v1.saved_model.loader.load(session, [tf.saved_model.SERVING], str(path))
            session._extend_graph()  # the graph is final: requests go straight to the C session
            model = cls(name, version, path, session, meta_graph.signature_def)
            model._warm_up()
        except BaseException:
            session.close()
            raise
        return model

    def _warm_up(self):  # replays assets.extra/tf_serving_warmup_requests, as saved_model_warmup_util.cc does
        path = self.path / "assets.extra" / "tf_serving_warmup_requests"
        records = tf.data.TFRecordDataset(str(path)).as_numpy_iterator() if path.exists() else []
        for count, record in enumerate(records, 1):
            try:
                log = prediction_log_pb2.PredictionLog.FromString(record)
            except Exception:  # noqa: BLE001  protobuf's DecodeError
                raise invalid(f"Failed to parse warmup record: {record!r} from {path}") from None
            kind = log.WhichOneof("log_type")
            if kind == "predict_log":
                request = log.predict_log.request
                self.predict(request.model_spec.signature_name, dict(request.inputs), request.output_filter)
            elif kind is not None:  # TF Serving also replays classify, regress and multi_inference logs
                number = log.DESCRIPTOR.fields_by_name[kind].number
                raise tf.errors.UnimplementedError(None, None, f"Unsupported log_type for warmup: {number}")
            if count > _MAX_WARMUP_RECORDS:
                raise invalid(f"Number of warmup records exceeds the maximum ({_MAX_WARMUP_RECORDS}) at {path}")

    def _run(self, feeds, fetches):
        # Session.run() refuses a feed that does not fit the placeholder's static shape, a check of Python's
        # alone: TF Serving's C++ session feeds it and the graph decides (EnsureShape, kernels). The C call
        # under Session.run() also keeps TF's own error message, without the Python traceback.
        for name in set(feeds) | set(fetches):
            if name not in self._outputs:
                self._outputs[name] = self._session.graph.get_tensor_by_name(name)._as_tf_output()
        feeds = {self._outputs[name]: value for name, value in feeds.items()}
        return self._session._call_tf_sessionrun(None, feeds, [self._outputs[name] for name in fetches], [], None)

    def predict(self, signature_name, inputs, output_filter=()):
        """Runs a signature as predict_util.cc RunPredict() does; returns (signature name, {output: array}).

        `inputs`: {input: array or TensorProto}. One left out takes the SignatureDef's default, as
        tensorflow/cc/saved_model/util.cc GetInputValues() does.
        """
        name = signature_name or "serving_default"
        if name not in self.signature_defs:
            raise tf.errors.FailedPreconditionError(None, None, f'Serving signature key "{name}" not found.')
        signature, given = self.signature_defs[name], set(inputs)
        expected, defaults = set(signature.inputs), signature.defaults
        if len(given) > len(expected) or (len(given) < len(expected) and not defaults):  # VerifyRequestInputsSize()
            raise invalid(f"input size does not match signature: {len(given)}!={len(expected)} len({{"
                          f"{_sorted_names(given)}}}) != len({{{_sorted_names(expected)}}}). Sent extra: {{"
                          f"{_sorted_names(given - expected)}}}. Missing but required: {{"
                          f"{_sorted_names(expected - given)}}}.")
        feeds = {}
        for alias in sorted(expected):
            if alias not in given and alias not in defaults:
                raise invalid(f"Signature input alias: {alias}(feed name: {signature.inputs[alias].name}) not found in "
                              f"request and no default value provided. Inputs expected to be in the request "
                              f"{{{_sorted_names(given)}}}, or default input alias set: {_sorted_names(defaults)}")
            value = inputs[alias] if alias in given else defaults[alias]
            try:  # tf.make_ndarray stands in for Tensor::FromProto()
                feeds[signature.inputs[alias].name] = tf.make_ndarray(value) if isinstance(
                    value, tensor_pb2.TensorProto) else value
            except Exception:  # noqa: BLE001  any proto TF cannot read
                raise invalid(f"tensor parsing error: {alias}") from None
        if given - expected:
            raise invalid(f"Inputs contains invalid name. Used request inputs: {_sorted_names(given & expected)}, "
                          f"request input: {_sorted_names(given)}")
        aliases = list(output_filter) or sorted(signature.outputs)
        for index, alias in enumerate(aliases):  # PreProcessPrediction()
            if alias not in signature.outputs or alias in aliases[:index]:
                raise invalid(f"duplicate output tensor alias: {alias}" if alias in signature.outputs else
                              f"output tensor alias not found in signature: {alias} Outputs expected to be in the set "
                              f"{{{_sorted_names(signature.outputs)}}}.")
        return name, dict(zip(aliases, self._run(feeds, [signature.outputs[alias].name for alias in aliases])))

    def metadata(self):  # the GetModelMetadataResponse of get_model_metadata_impl.cc
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name, response.model_spec.version.value = self.name, self.version
        signatures = get_model_metadata_pb2.SignatureDefMap(signature_def=self.signature_defs)
        response.metadata["signature_def"].Pack(signatures)
        return response
