"""The REST API, request form by request form, against what TF Serving 2.20's source does.

Each case names the TF Serving source (tensorflow/serving, tag 2.20.0) that decides its answer:
json_tensor.cc parses the body and builds the tensors, http_rest_api_handler.cc and
http_rest_api_util.cc route the path, predict_util.cc runs the signature, http_server.cc
ToHTTPStatusCode() maps the status to HTTP (InvalidArgument 400, NotFound 404, ...).
"""

import gzip
import json
import threading

import pytest

from test_serving_toy import call, call_json, expected_embedding, make_root, toy_versions  # noqa: F401
from tfllmrec.serving import RestServer

PREDICT = "/v1/models/toy:predict"
ROW_TOP3 = {"item_ids": ["a", "b", "c"], "scores": [5.0, 4.0, 3.0]}
ROW_TOP2 = {"item_ids": ["a", "b"], "scores": [5.0, 4.0]}
STATUS_1 = {"model_version_status": [
    {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory, toy_versions):  # noqa: F811
    with RestServer(make_root(tmp_path_factory.mktemp("rest"), toy_versions), port=0) as server:
        yield server


def recommend_k(**body):
    return {"signature_name": "recommend_k", **body}


def encode(text):
    return expected_embedding(1, text)


# (id, method, path, body, HTTP status, expected JSON body, or ("error", message) / ("error_prefix", start), source)
CASES = [
    # Row format ("instances") ---------------------------------------------------------------
    ("row-bare-values-one-input", "POST", PREDICT, {"instances": ["u1", "u2"]}, 200,
     {"predictions": [ROW_TOP3, ROW_TOP3]}, "json_tensor.cc FillTensorMapFromInstancesList: a plain list feeds the one input"),
    ("row-objects", "POST", PREDICT, {"instances": [{"user_id": "u1"}]}, 200, {"predictions": [ROW_TOP3]},
     "json_tensor.cc FillTensorMapFromInstancesList"),
    ("row-k-omitted-no-default-over-rest", "POST", PREDICT, recommend_k(instances=[{"user_id": "u1"}]), 400,
     ("error", "Failed to process element: 0 of 'instances' list. JSON object: {\n    \"user_id\": \"u1\"\n} keys "
               "must be equal to: k,user_id"),
     "json_tensor.cc FillTensorMapFromInstancesList: every instance holds every input; defaults are gRPC-only"),
    ("row-bare-values-two-inputs", "POST", PREDICT, recommend_k(instances=["u1"]), 400,
     ("error", "instances is a plain list, but expecting list of objects as multiple input tensors required as "
               "per tensorinfo_map"), "json_tensor.cc FillTensorMapFromInstancesList"),
    ("row-k-in-each-instance-ensure-shape", "POST", PREDICT, recommend_k(instances=[{"user_id": "u1", "k": 2}]), 400,
     ("error_prefix", "Shape of tensor _arg_recommend_k_k_0_0 [1] is not compatible with expected shape []."),
     "json_tensor.cc stacks k to [1]; the graph's EnsureShape fails; http_server.cc InvalidArgument -> 400"),
    ("row-k-in-each-instance-top-k", "POST", PREDICT,
     {"signature_name": "top_k_unchecked", "instances": [{"user_id": "u1", "k": 2}]}, 400,
     ("error_prefix", "k must be scalar, got shape [1]\n\t [[{{function_node __inference_top_k_unchecked_"),
     "json_tensor.cc stacks k to [1]; TopKV2 fails InvalidArgument; http_server.cc -> 400"),
    ("row-unknown-key", "POST", PREDICT, {"instances": [{"user_id": "u1", "bogus": 1}]}, 400,
     ("error", "Failed to process element: 0 key: bogus of 'instances' list. Error: INVALID_ARGUMENT: JSON object: "
               "does not have named input: bogus"), "json_tensor.cc AddInstanceItem"),
    ("row-wrong-type", "POST", PREDICT, {"instances": [1]}, 400,
     ("error", "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: JSON Value: 1 Type: "
               "Number is not of expected type: string"), "json_tensor.cc AddValueToTensor / TypeError"),
    ("row-ragged", "POST", PREDICT, {"instances": [["u1"], ["u2", "u3"]]}, 400,
     ("error", "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: Expecting tensor size: "
               "1 but got: 2"), "json_tensor.cc AddInstanceItem"),
    ("row-empty", "POST", PREDICT, {"instances": []}, 400,
     ("error", "JSON Value: {\n    \"instances\": []\n} No values in 'instances' array"),
     "json_tensor.cc FillPredictRequestFromJson"),
    # Columnar format ("inputs") -------------------------------------------------------------
    ("columnar-with-k", "POST", PREDICT, recommend_k(inputs={"user_id": ["u1", "u2"], "k": 2}), 200,
     {"outputs": {"item_ids": [["a", "b"]] * 2, "scores": [[5.0, 4.0]] * 2}}, "json_tensor.cc FillTensorMapFromInputsMap"),
    ("columnar-k-omitted", "POST", PREDICT, recommend_k(inputs={"user_id": ["u1"]}), 400,
     ("error", "Missing named input: k in 'inputs' object."), "json_tensor.cc FillTensorMapFromInputsMap"),
    ("columnar-bare-value-one-input", "POST", PREDICT, {"inputs": ["u1"]}, 200,
     {"outputs": {"item_ids": [["a", "b", "c"]], "scores": [[5.0, 4.0, 3.0]]}}, "json_tensor.cc FillTensorMapFromInputsMap"),
    ("columnar-bare-value-two-inputs", "POST", PREDICT, recommend_k(inputs=["u1"]), 400,
     ("error", "inputs is a plain value/list, but expecting an object as multiple input tensors required as per "
               "tensorinfo_map"), "json_tensor.cc FillTensorMapFromInputsMap"),
    ("columnar-extra-keys-ignored", "POST", PREDICT, {"inputs": {"user_id": ["u1"], "bogus": [1], "k": "x"}}, 200,
     {"outputs": {"item_ids": [["a", "b", "c"]], "scores": [[5.0, 4.0, 3.0]]}},
     "json_tensor.cc FillTensorMapFromInputsMap looks up the signature's inputs only"),
    ("columnar-wrong-rank-2", "POST", PREDICT, {"inputs": {"user_id": [["u1"]]}}, 400,
     ("error_prefix", "Shape of tensor _arg_serving_default_user_id_0_0 [1,1] is not compatible with expected shape [?]."),
     "no shape check in TF Serving: the graph's EnsureShape fails; http_server.cc -> 400"),
    ("columnar-wrong-rank-0", "POST", PREDICT, {"inputs": "u1"}, 400,
     ("error_prefix", "Shape of tensor _arg_serving_default_user_id_0_0 [] is not compatible with expected shape [?]."),
     "no shape check in TF Serving: the graph's EnsureShape fails; http_server.cc -> 400"),
    ("columnar-float-for-int", "POST", PREDICT, recommend_k(inputs={"user_id": ["u1"], "k": 2.0}), 400,
     ("error", "JSON Value: 2.0 Type: Number is not of expected type: int32"), "json_tensor.cc AddValueToTensor: IsInt()"),
    ("columnar-int-out-of-range", "POST", PREDICT, recommend_k(inputs={"user_id": ["u1"], "k": 2**40}), 400,
     ("error", "JSON Value: 1099511627776 Type: Number is not of expected type: int32"), "json_tensor.cc AddValueToTensor"),
    ("columnar-bool-for-int", "POST", PREDICT, recommend_k(inputs={"user_id": ["u1"], "k": True}), 400,
     ("error", "JSON Value: true Type: True is not of expected type: int32"), "json_tensor.cc AddValueToTensor"),
    # Bytes, encodings, JSON quirks ----------------------------------------------------------
    ("invalid-utf8-in-string", "POST", PREDICT, b'{"signature_name": "encode_items", "instances": ["\xff\xfe"]}', 200,
     {"predictions": [[2.0, 1.0, 0.5, 0.0]]}, "json_tensor.cc ParseJson: rapidjson without kParseValidateEncodingFlag"),
    ("b64-string", "POST", PREDICT, {"signature_name": "encode_items", "instances": [{"b64": "aGVsbG8="}]}, 200,
     {"predictions": [encode("hello")]}, "json_tensor.cc JsonDecodeBase64Object"),
    ("b64-invalid", "POST", PREDICT, {"instances": [{"b64": "!!"}]}, 400,
     ("error", "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: Unable to base64 decode"),
     "json_tensor.cc JsonDecodeBase64Object"),
    ("trailing-text-ignored", "POST", PREDICT, b'{"instances": ["u1"]} and then {"instances": 5}', 200,
     {"predictions": [ROW_TOP3]}, "json_tensor.cc ParseJson: kParseStopWhenDoneFlag"),
    ("duplicate-top-level-key-first-wins", "POST", PREDICT,
     b'{"signature_name": "encode_items", "signature_name": "nope", "inputs": ["ab"]}', 200,
     {"outputs": [encode("ab")]}, "json_tensor.cc FillSignature: FindMember returns the first"),
    ("duplicate-columnar-key-first-wins", "POST", PREDICT,
     b'{"signature_name": "encode_items", "inputs": {"item_text": ["a"], "item_text": ["abcd"]}}', 200,
     {"outputs": [encode("a")]}, "json_tensor.cc FillTensorMapFromInputsMap: FindMember"),
    ("duplicate-instance-key-both-appended", "POST", PREDICT,
     b'{"signature_name": "encode_items", "instances": [{"item_text": "a", "item_text": "abc"}, {"item_text": "xyzzy"}]}',
     200, {"predictions": [encode("a"), encode("abc")]},
     "json_tensor.cc FillTensorMapFromInstancesList iterates every member; tensor.cc FromProto keeps the first 2 values"),
    ("empty-body", "POST", PREDICT, b"", 400, ("error", "JSON Parse error: The document is empty"), "json_tensor.cc ParseJson"),
    ("truncated-json", "POST", PREDICT, b'{"instances": ["u1"', 400,
     ("error", "JSON Parse error: Expecting ',' delimiter at offset: 19"),
     "json_tensor.cc ParseJson's frame and offset; the reason is Python's (rapidjson: Missing a comma or ']' ...)"),
    ("not-an-object", "POST", PREDICT, b"[1, 2]", 400, ("error", "JSON Value: [1, 2] Is not object"), "json_tensor.cc ParseJson"),
    ("signature-name-not-string", "POST", PREDICT, {"signature_name": 5, "instances": ["u1"]}, 400,
     ("error", "JSON Value: {\n    \"signature_name\": 5,\n    \"instances\": [\"u1\"]\n} not formatted correctly. "
               "'signature_name' key must be a string value."), "json_tensor.cc FormatSignatureError"),
    ("both-keys", "POST", PREDICT, {"instances": ["u1"], "inputs": ["u1"]}, 400,
     ("error", "JSON Value: {\n    \"instances\": [\"u1\"],\n    \"inputs\": [\"u1\"]\n} Not formatted correctly "
               "expecting only one of 'inputs' or 'instances' keys to exist "), "json_tensor.cc FillPredictRequestFromJson"),
    ("no-inputs-key", "POST", PREDICT, {"queries": ["u1"]}, 400, ("error", "Missing 'inputs' or 'instances' key"),
     "json_tensor.cc FillPredictRequestFromJson"),
    ("gzip-body", "POST", PREDICT, gzip.compress(b'{"instances": ["u1"]}'), 200, {"predictions": [ROW_TOP3]},
     "net_http evhttp_request.cc: Content-Encoding gzip is uncompressed"),
    # Paths, models, versions, labels, signatures ---------------------------------------------
    ("missing-signature", "POST", PREDICT, {"signature_name": "nope", "instances": ["u1"]}, 400,
     ("error", 'Serving signature name: "nope" not found in signature def'), "http_rest_api_handler.cc GetInfoMap"),
    ("unknown-model-predict", "POST", "/v1/models/nope:predict", {"instances": ["u1"]}, 404,
     ("error", "Servable not found for request: Latest(nope)"), "basic_manager.cc GetUntypedServableHandle"),
    ("unknown-model-bad-json-parses-first", "POST", "/v1/models/nope:predict", b"{", 400,
     ("error", "JSON Parse error: Expecting property name enclosed in double quotes at offset: 1"),
     "json_tensor.cc FillPredictRequestFromJson parses before GetInfoMap looks the model up"),
    ("unknown-model-status", "GET", "/v1/models/nope", None, 404, ("error", "Could not find any versions of model nope"),
     "get_model_status_impl.cc"),
    ("unknown-model-metadata", "GET", "/v1/models/nope/metadata", None, 404,
     ("error", "Servable not found for request: Latest(nope)"), "get_model_metadata_impl.cc, basic_manager.cc"),
    ("unknown-version-predict", "POST", "/v1/models/toy/versions/7:predict", {"instances": ["u1"]}, 404,
     ("error", "Servable not found for request: Specific(toy, 7)"), "basic_manager.cc GetUntypedServableHandle"),
    ("unknown-version-status", "GET", "/v1/models/toy/versions/7", None, 404,
     ("error", "Could not find version 7 of model toy"), "get_model_status_impl.cc"),
    ("version-too-large", "GET", "/v1/models/toy/versions/99999999999999999999", None, 400,
     ("error", "Failed to convert version: 99999999999999999999 to numeric."), "http_rest_api_util.cc ParseModelInfo"),
    ("version-in-url", "POST", "/v1/models/toy/versions/1:predict", {"instances": ["u1"]}, 200,
     {"predictions": [ROW_TOP3]}, "http_rest_api_util.cc kPredictionApiGegex"),
    ("status", "GET", "/v1/models/toy", None, 200, STATUS_1, "get_model_status_impl.cc, ToJsonString"),
    ("status-version", "GET", "/v1/models/toy/versions/1", None, 200, STATUS_1, "get_model_status_impl.cc"),
    ("label-predict", "POST", "/v1/models/toy/labels/stable:predict", {"instances": ["u1"]}, 400,
     ("error", "Unrecognized servable version label: stable"), "server_core.cc GetModelVersionForLabel"),
    ("label-status-lists-all-versions", "GET", "/v1/models/toy/labels/stable", None, 200, STATUS_1,
     "get_model_status_impl.cc looks at model_spec.version only"),
    ("missing-model-name", "GET", "/v1/models", None, 400, ("error", "Missing model name in request."),
     "http_rest_api_handler.cc ProcessModelStatusRequest"),
    ("unknown-path-under-v1", "GET", "/v1/nothing/here", None, 400, ("error", "Malformed request: GET /v1/nothing/here"),
     "http_rest_api_handler.cc ProcessRequest"),
    ("get-predict-path", "GET", PREDICT, None, 400, ("error", "Malformed request: GET /v1/models/toy:predict"),
     "http_rest_api_handler.cc ProcessRequest"),
    ("post-status-path", "POST", "/v1/models/toy", {"instances": ["u1"]}, 400,
     ("error", "Malformed request: POST /v1/models/toy"), "http_rest_api_handler.cc ProcessRequest"),
    ("unknown-method", "DELETE", "/v1/models/toy", None, 400, ("error", "Malformed request: DELETE /v1/models/toy"),
     "http_rest_api_handler.cc ProcessRequest"),
    ("method-name-case", "POST", "/v1/models/toy:PREDICT", {"instances": ["u1"]}, 400,
     ("error", "Malformed request: POST /v1/models/toy:PREDICT"), "the regex is (?i), the method compare is exact"),
    ("unimplemented-classify", "POST", "/v1/models/toy:classify", {"examples": [{}]}, 501,
     ("error", "This development server does not serve :classify."), "ours: TF Serving runs tf.Example signatures"),
]


def check(status, raw, expected_status, expected, source):
    body = json.loads(raw)
    assert status == expected_status, (source, body)
    if isinstance(expected, dict):
        assert body == expected, source
    else:
        kind, text = expected
        assert set(body) == {"error"}, source
        assert body["error"] == text if kind == "error" else body["error"].startswith(text), (source, body["error"])


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_request_form(server, case):
    _, method, path, body, status, expected, source = case
    headers = {"Content-Encoding": "gzip"} if case[0] == "gzip-body" else None
    check(*call(server.port, method, path, body, headers=headers), status, expected, source)


def test_numbers_and_strings_are_written_as_rapidjson_writes_them(server):
    # json_tensor.cc WriteDecimal (%g, .0 for whole numbers) and the writer's raw string bytes.
    status, raw = call(server.port, "POST", PREDICT, {"instances": ["u1"]})
    assert (status, raw) == (200, b'{"predictions": [{"item_ids": ["a", "b", "c"], "scores": [5.0, 4.0, 3.0]}]}')
    status, raw = call(server.port, "POST", PREDICT, {"signature_name": "encode_items", "inputs": ["abc"]})
    assert (status, raw) == (200, b'{"outputs": [[3.0, 1.5, 0.75, 0.0]]}')


def test_paths_outside_v1_get_libevents_404_page(server):
    # http_server.cc dispatches only (?i)/v1/.*; evhttp_server.cc answers the rest with evhttp_send_error(404).
    assert call(server.port, "GET", "/healthz") == (
        404, b"<HTML><HEAD>\n<TITLE>404 Not Found</TITLE>\n</HEAD><BODY>\n<H1>Not Found</H1>\n</BODY></HTML>\n")


def test_metadata_is_the_signature_def_map_printed_by_json_format(server):
    # get_model_metadata_impl.cc SavedModelGetSignatureDef; http_rest_api_util.cc ToJsonString (field names kept).
    status, body = call_json(server.port, "GET", "/v1/models/toy/metadata")
    assert status == 200 and set(body) == {"model_spec", "metadata"}
    assert body["model_spec"] == {"name": "toy", "signature_name": "", "version": "1"}
    signatures = body["metadata"]["signature_def"]["signature_def"]
    assert set(signatures) == {"__saved_model_init_op", "serving_default", "recommend_k", "top_k_unchecked",
                               "encode_items"}
    recommend = signatures["recommend_k"]
    assert recommend["method_name"] == "tensorflow/serving/predict"
    assert recommend["inputs"]["user_id"]["tensor_shape"] == {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False}
    assert recommend["inputs"]["k"]["dtype"] == "DT_INT32" and recommend["inputs"]["k"]["tensor_shape"]["dim"] == []
    assert recommend["defaults"]["k"]["int_val"] == [3]
    assert set(recommend["outputs"]) == {"item_ids", "scores"}
    assert call_json(server.port, "GET", "/v1/models/toy/versions/1/metadata") == (200, body)


def test_handle_answers_without_a_socket_and_server_keeps_serving(server):
    baseline = threading.active_count()
    for case in CASES:
        server.handle(case[1], case[2], case[3] if isinstance(case[3], bytes) else json.dumps(case[3] or {}).encode())
    assert server.handle("POST", PREDICT, b'{"instances": ["u1"]}') == (
        200, b'{"predictions": [{"item_ids": ["a", "b", "c"], "scores": [5.0, 4.0, 3.0]}]}')
    assert threading.active_count() <= baseline + 1
