"""TF Serving warm-up records: `assets.extra/tf_serving_warmup_requests`."""

from pathlib import Path

import tensorflow as tf

WARMUP_FILE = ("assets.extra", "tf_serving_warmup_requests")


def write_warmup_requests(saved_model_dir, model_name, requests):
    """Writes PredictionLog records TF Serving replays when it loads a version.

    Args:
        saved_model_dir: str or Path. The version folder.
        model_name: str. The model's name in TF Serving.
        requests: list of (signature_name, {input_name: value}) pairs; values
            are anything `tf.make_tensor_proto` takes.

    Returns:
        The path of the warm-up file, as a string.

    Example:
    >>> write_warmup_requests("saved_models/video/2", "video",
    ...                       [("serving_default", {"user_id": ["196"], "k": 10})])
    'saved_models/video/2/assets.extra/tf_serving_warmup_requests'
    """
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path = Path(saved_model_dir).joinpath(*WARMUP_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature, inputs in requests:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
            )
            for key, value in inputs.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return str(path)


def read_warmup_requests(saved_model_dir):
    """The (signature_name, {input: np.ndarray}) pairs of a warm-up file.

    Example:
    >>> _ = write_warmup_requests("video/2", "video",
    ...                           [("serving_default", {"user_id": ["196"], "k": 10})])
    >>> [(name, {k: inputs[k].tolist() for k in sorted(inputs)})
    ...  for name, inputs in read_warmup_requests("video/2")]
    [('serving_default', {'k': 10, 'user_id': [b'196']})]
    """
    from tensorflow_serving.apis import prediction_log_pb2

    path = Path(saved_model_dir).joinpath(*WARMUP_FILE)
    requests = []
    for record in tf.data.TFRecordDataset(str(path)):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        requests.append((request.model_spec.signature_name, inputs))
    return requests
