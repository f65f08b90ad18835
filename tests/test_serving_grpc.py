"""The gRPC API (port `grpc_port`) through tensorflow_serving.apis stubs, on loopback.

Sources (tensorflow/serving 2.20.0): prediction_service_impl.cc, predict_impl.cc and
predict_util.cc (RunPredict, VerifyRequestInputsSize, and tensorflow/cc/saved_model/util.cc
GetInputValues, which fills a missing input from the SignatureDef's defaults: gRPC only),
get_model_metadata_impl.cc, get_model_status_impl.cc, grpc_status_util.cc ToGRPCStatus.
"""

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                     predict_pb2, prediction_service_pb2_grpc)

from test_serving_toy import make_root, toy_versions  # noqa: F401
from tfllmrec.serving import RestServer


@pytest.fixture(scope="module")
def stubs(tmp_path_factory, toy_versions):  # noqa: F811
    with RestServer(make_root(tmp_path_factory.mktemp("grpc"), toy_versions), port=0, grpc_port=0) as server:
        with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            yield prediction_service_pb2_grpc.PredictionServiceStub(channel), model_service_pb2_grpc.ModelServiceStub(channel)


def predict_request(signature, **inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "toy"
    request.model_spec.signature_name = signature
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def test_predict_with_and_without_k(stubs):
    predict, _ = stubs
    response = predict.Predict(predict_request("recommend_k", user_id=["u1", "u2"], k=np.int32(2)), timeout=30)
    assert tf.make_ndarray(response.outputs["item_ids"]).tolist() == [[b"a", b"b"]] * 2
    assert tf.make_ndarray(response.outputs["scores"]).tolist() == [[5.0, 4.0]] * 2
    assert (response.model_spec.name, response.model_spec.signature_name, response.model_spec.version.value) == (
        "toy", "recommend_k", 1)
    # k left out: GetInputValues() feeds the SignatureDef default, 3.
    response = predict.Predict(predict_request("recommend_k", user_id=["u1"]), timeout=30)
    assert tf.make_ndarray(response.outputs["item_ids"]).tolist() == [[b"a", b"b", b"c"]]
    response = predict.Predict(predict_request("", user_id=["u1"]), timeout=30)
    assert response.model_spec.signature_name == "serving_default"
    assert tf.make_ndarray(response.outputs["scores"]).tolist() == [[5.0, 4.0, 3.0]]


ERRORS = [
    (predict_request("serving_default"), grpc.StatusCode.INVALID_ARGUMENT,
     "input size does not match signature: 0!=1 len({}) != len({user_id}). Sent extra: {}. "
     "Missing but required: {user_id}."),
    (predict_request("recommend_k", k=np.int32(2)), grpc.StatusCode.INVALID_ARGUMENT,
     "Signature input alias: user_id(feed name: recommend_k_user_id:0) not found in request and no default value "
     "provided. Inputs expected to be in the request {k}, or default input alias set: k"),
    (predict_request("recommend_k", user_id=["u1"], kk=np.int32(2)), grpc.StatusCode.INVALID_ARGUMENT,
     "Inputs contains invalid name. Used request inputs: user_id, request input: kk,user_id"),
    (predict_request("nope", user_id=["u1"]), grpc.StatusCode.FAILED_PRECONDITION,
     'Serving signature key "nope" not found.'),
    (predict_pb2.PredictRequest(), grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec"),
]


@pytest.mark.parametrize("request_, code, message", ERRORS, ids=["no-inputs", "no-default", "extra-input",
                                                                  "no-signature", "no-model-spec"])
def test_predict_errors_are_tf_servings_status(stubs, request_, code, message):
    with pytest.raises(grpc.RpcError) as failure:
        stubs[0].Predict(request_, timeout=30)
    assert (failure.value.code(), failure.value.details()) == (code, message)


def test_wrong_rank_fails_in_the_graph(stubs):
    with pytest.raises(grpc.RpcError) as failure:
        stubs[0].Predict(predict_request("recommend_k", user_id=["u1"], k=np.array([2], np.int32)), timeout=30)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert failure.value.details().startswith(
        "Shape of tensor _arg_recommend_k_k_0_0 [1] is not compatible with expected shape [].")


def test_unknown_model_and_version(stubs):
    request = predict_request("", user_id=["u1"])
    request.model_spec.name = "nope"
    with pytest.raises(grpc.RpcError) as failure:
        stubs[0].Predict(request, timeout=30)
    assert (failure.value.code(), failure.value.details()) == (
        grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(nope)")
    request.model_spec.name = "toy"
    request.model_spec.version.value = 9
    with pytest.raises(grpc.RpcError) as failure:
        stubs[0].Predict(request, timeout=30)
    assert failure.value.details() == "Servable not found for request: Specific(toy, 9)"


def test_get_model_metadata(stubs):
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "toy"
    response = stubs[0].GetModelMetadata(request, timeout=30)
    assert (response.model_spec.name, response.model_spec.version.value) == ("toy", 1)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    assert set(signatures.signature_def) == {"__saved_model_init_op", "serving_default", "recommend_k",
                                             "top_k_unchecked", "encode_items"}
    assert tf.make_ndarray(signatures.signature_def["recommend_k"].defaults["k"]) == 3
    del request.metadata_field[:]
    with pytest.raises(grpc.RpcError) as failure:
        stubs[0].GetModelMetadata(request, timeout=30)
    assert failure.value.details() == "GetModelMetadataRequest must specify at least one metadata_field"


def test_get_model_status(stubs):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "toy"
    response = stubs[1].GetModelStatus(request, timeout=30)
    [status] = response.model_version_status
    assert (status.version, status.state, status.status.error_code, status.status.error_message) == (
        1, get_model_status_pb2.ModelVersionStatus.AVAILABLE, 0, "")
    request.model_spec.version.value = 3
    with pytest.raises(grpc.RpcError) as failure:
        stubs[1].GetModelStatus(request, timeout=30)
    assert (failure.value.code(), failure.value.details()) == (
        grpc.StatusCode.NOT_FOUND, "Could not find version 3 of model toy")
