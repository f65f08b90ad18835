"""`RestServer` over loopback: TF Serving's REST API shapes, formats and errors."""

import base64
import http.client
import json
import threading
import time

import pytest

from test_serving_toy import call, expected_embedding, expected_recommendation, make_root, toy_versions  # noqa: F401
from tfllmrec.serving import RestServer


@pytest.fixture(scope="module")
def server(tmp_path_factory, toy_versions):  # noqa: F811
    root = make_root(tmp_path_factory.mktemp("rest"), toy_versions)
    server = RestServer(root, port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def port(server):
    return server.port


def predict(port, body, path="/v1/models/toy:predict"):
    return call(port, "POST", path, body)


# Status and metadata --------------------------------------------------------

AVAILABLE_1 = {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}


def test_model_status(port):
    assert call(port, "GET", "/v1/models/toy") == (200, {"model_version_status": [AVAILABLE_1]})
    assert call(port, "GET", "/v1/models/toy/versions/1") == (200, {"model_version_status": [AVAILABLE_1]})


def test_metadata_lists_signatures_as_tf_serving_does(port):
    status, body = call(port, "GET", "/v1/models/toy/metadata")
    assert status == 200
    assert body["model_spec"] == {"name": "toy", "signature_name": "", "version": "1"}
    signatures = body["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "encode_items"} <= set(signatures)
    default = signatures["serving_default"]
    assert default["method_name"] == "tensorflow/serving/predict"
    user_id = default["inputs"]["user_id"]
    assert user_id["dtype"] == "DT_STRING"
    assert user_id["tensor_shape"] == {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False}
    assert user_id["name"].endswith(":0")
    assert default["inputs"]["k"]["dtype"] == "DT_INT32"
    assert default["inputs"]["k"]["tensor_shape"]["dim"] == []
    assert set(default["outputs"]) == {"item_ids", "scores"}
    assert default["outputs"]["scores"]["dtype"] == "DT_FLOAT"
    embedding = signatures["encode_items"]["outputs"]["embedding"]
    assert [d["size"] for d in embedding["tensor_shape"]["dim"]] == ["-1", "4"]
    assert call(port, "GET", "/v1/models/toy/versions/1/metadata") == (200, body)


# Predict ----------------------------------------------------------------------

def test_row_format_bare_values_use_the_default_k(port):
    status, body = predict(port, {"instances": ["u1", "u2"]})
    assert status == 200
    assert body == {"predictions": [expected_recommendation(1), expected_recommendation(1)]}


def test_row_format_objects_with_and_without_k(port):
    status, body = predict(port, {"instances": [{"user_id": "u1", "k": 2}, {"user_id": "u2", "k": 2}]})
    assert (status, body) == (200, {"predictions": [expected_recommendation(1, k=2)] * 2})
    status, body = predict(port, {"instances": [{"user_id": "u1"}]})
    assert (status, body) == (200, {"predictions": [expected_recommendation(1)]})


def test_columnar_format_with_and_without_k(port):
    status, body = predict(port, {"inputs": {"user_id": ["u1", "u2"], "k": 4}})
    expected = expected_recommendation(1, k=4)
    assert (status, body) == (200, {"outputs": {"item_ids": [expected["item_ids"]] * 2,
                                                "scores": [expected["scores"]] * 2}})
    status, body = predict(port, {"inputs": {"user_id": ["u1"]}})
    assert body == {"outputs": {k: [v] for k, v in expected_recommendation(1).items()}}
    # A bare value feeds the one input that has no default.
    assert predict(port, {"inputs": ["u1"]}) == (200, body)


def test_signature_name_and_single_output(port):
    status, body = predict(port, {"signature_name": "encode_items", "instances": ["red shoe", "hat"]})
    assert (status, body) == (200, {"predictions": [expected_embedding(1, "red shoe"), expected_embedding(1, "hat")]})
    status, body = predict(port, {"signature_name": "encode_items", "inputs": {"item_text": ["hat"]}})
    assert (status, body) == (200, {"outputs": [expected_embedding(1, "hat")]})


def test_base64_and_unicode_strings(port):
    encoded = base64.b64encode("héllo".encode()).decode()
    status, body = predict(port, {"signature_name": "encode_items", "instances": [{"b64": encoded}, "héllo"]})
    assert status == 200
    assert body["predictions"][0] == body["predictions"][1] == expected_embedding(1, "héllo")


def test_version_in_url(port):
    status, body = predict(port, {"instances": ["u1"]}, path="/v1/models/toy/versions/1:predict")
    assert (status, body) == (200, {"predictions": [expected_recommendation(1)]})


# Errors ----------------------------------------------------------------------

ERRORS = [
    # (method, path, body, status, a fragment of the message)
    ("POST", "/v1/models/toy:predict", b'{"instances": ["u1"', 400, "JSON Parse error"),
    ("POST", "/v1/models/toy:predict", b"", 400, "empty"),
    ("POST", "/v1/models/toy:predict", b"[1, 2]", 400, "Is not object"),
    ("POST", "/v1/models/toy:predict", {"signature_name": "nope", "instances": ["u1"]}, 400, '"nope" not found'),
    ("POST", "/v1/models/toy:predict", {"signature_name": 3, "instances": ["u1"]}, 400, "signature_name"),
    ("POST", "/v1/models/toy:predict", {"instances": [1, 2]}, 400, "user_id"),
    ("POST", "/v1/models/toy:predict", {"inputs": {"user_id": [7]}}, 400, "DT_STRING"),
    ("POST", "/v1/models/toy:predict", {"inputs": {"user_id": ["u1"], "k": "abc"}}, 400, "DT_INT32"),
    ("POST", "/v1/models/toy:predict", {"inputs": {"user_id": ["u1"], "k": 2.5}}, 400, "'k'"),
    ("POST", "/v1/models/toy:predict", {"inputs": {"user_id": ["u1"], "k": 2 ** 40}}, 400, "range"),
    ("POST", "/v1/models/toy:predict", {"inputs": {"user_id": ["u1"], "k": True}}, 400, "'k'"),
    ("POST", "/v1/models/toy:predict", {"inputs": {"user_id": ["u1"], "kk": 2}}, 400, "'kk'"),
    ("POST", "/v1/models/toy:predict", {"instances": [{"user_id": "u1", "kk": 2}]}, 400, "'kk'"),
    ("POST", "/v1/models/toy:predict", {"inputs": {"k": 2}}, 400, "'user_id'"),
    ("POST", "/v1/models/toy:predict", {"instances": [{"k": 2}]}, 400, "'user_id'"),
    ("POST", "/v1/models/toy:predict", {"instances": ["u1"], "inputs": ["u1"]}, 400, "only one of"),
    ("POST", "/v1/models/toy:predict", {"signature_name": "serving_default"}, 400, "Missing 'inputs' or 'instances'"),
    ("POST", "/v1/models/toy:predict", {"instances": []}, 400, "No values"),
    ("POST", "/v1/models/toy:predict", {"instances": "u1"}, 400, "list"),
    ("POST", "/v1/models/toy:predict", {"inputs": {"user_id": [["u1"], ["u2", "u3"]]}}, 400, "user_id"),
    ("POST", "/v1/models/toy:predict", {"inputs": {"user_id": "u1"}}, 400, "shape"),
    ("POST", "/v1/models/toy:predict", {"instances": [{"user_id": "u1", "k": 1}, {"user_id": "u2", "k": 2}]},
     400, "same value"),
    ("POST", "/v1/models/toy:predict", {"instances": [{"user_id": "u1"}, {"user_id": "u2", "k": 2}]}, 400, "keys"),
    ("POST", "/v1/models/toy:predict", {"instances": [{"user_id": {"b64": "!!"}}]}, 400, "base64"),
    ("POST", "/v1/models/toy:predict", b'{"instances": ["\\ud800"]}', 400, "Unicode"),
    ("POST", "/v1/models/toy:predict", b'{"signature_name": "\\ud800", "instances": ["u1"]}', 400, "not found"),
    ("POST", "/v1/models/toy:predict", b'{"instances": ["\xff"]}', 400, "JSON Parse error"),
    ("POST", "/v1/models/toy:predict", b"[" * 5000 + b"]" * 5000, 400, ""),
    ("POST", "/v1/models/toy:classify", {"examples": [{}]}, 400, ":predict"),
    ("POST", "/v1/models/nope:predict", {"instances": ["u1"]}, 404, "nope"),
    ("POST", "/v1/models/toy/versions/7:predict", {"instances": ["u1"]}, 404, "Specific(toy, 7)"),
    ("GET", "/v1/models/nope", None, 404, "nope"),
    ("GET", "/v1/models/toy/versions/7", None, 404, "version 7"),
    ("GET", "/v1/models/toy/versions/7/metadata", None, 404, "Specific(toy, 7)"),
    ("GET", "/v1/models/nope/metadata", None, 404, "nope"),
    ("GET", "/v1/nothing/here", None, 404, "Malformed request"),
    ("GET", "/v1/models/toy:predict", None, 404, "Malformed request"),
    ("POST", "/v1/models/toy", {"instances": ["u1"]}, 404, "Malformed request"),
    ("DELETE", "/v1/models/toy", None, 404, "Malformed request"),
    ("GET", "/", None, 404, "Malformed request"),
]


@pytest.mark.parametrize("method, path, body, status, fragment", ERRORS,
                         ids=[f"{e[0]} {e[1]} {str(e[2])[:40]}" for e in ERRORS])
def test_errors_are_tf_serving_shaped(port, method, path, body, status, fragment):
    got_status, got_body = call(port, method, path, body)
    assert got_status == status, got_body
    assert set(got_body) == {"error"} and isinstance(got_body["error"], str)
    assert fragment in got_body["error"]


def test_bad_content_length_is_400_and_closes(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("POST", "/v1/models/toy:predict")
        connection.putheader("Content-Length", "lots")
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 400
        assert "Content-Length" in json.loads(response.read())["error"]
    finally:
        connection.close()


def test_keep_alive_connection_serves_several_requests(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for body in (b'{"instances": ["u1"]}', b"{oops", b'{"instances": ["u2"]}'):
            connection.request("POST", "/v1/models/toy:predict", body=body)
            response = connection.getresponse()
            payload = json.loads(response.read())
            assert response.status == (400 if body == b"{oops" else 200), payload
    finally:
        connection.close()


def test_server_keeps_serving_after_errors(port):
    baseline = threading.active_count()
    for method, path, body, _, _ in ERRORS:
        call(port, method, path, body)
    status, body = predict(port, {"instances": ["u1"]})
    assert (status, body) == (200, {"predictions": [expected_recommendation(1)]})
    # Every request's thread ends: none hangs after an error.
    deadline = time.monotonic() + 5
    while threading.active_count() > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= baseline


def test_serve_forever_stops_from_another_thread(tmp_path, toy_versions):  # noqa: F811
    server = RestServer(make_root(tmp_path, toy_versions), port=0)
    runner = threading.Thread(target=server.serve_forever, daemon=True)
    runner.start()
    deadline = time.monotonic() + 10
    while server.port == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert call(server.port, "GET", "/v1/models/toy")[0] == 200
    server.stop()
    runner.join(timeout=10)
    assert not runner.is_alive()
