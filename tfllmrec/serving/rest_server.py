"""`RestServer` and `serve()`: TF Serving's REST and gRPC APIs over a models root, for local development."""

import gzip
import json
import logging
import re
import threading
import zlib
from concurrent import futures
from urllib.parse import unquote, urlsplit

import grpc
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import model_service_pb2_grpc, predict_pb2
from tensorflow_serving.apis.get_model_metadata_pb2 import SignatureDefMap
from tensorflow_serving.apis import prediction_service_pb2_grpc as prediction_grpc
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tfllmrec.serving import _json_tensor
from tfllmrec.serving._json_write import error_json, invalid, predict_json
from tfllmrec.serving.model_repository import ModelRepository

logger = logging.getLogger("tfllmrec.serving")
# http_rest_api_util.cc kPredictionApiGegex and kModelStatusApiRegex; http_server.cc takes (?i)/v1/.* only.
_VERSION = r"(?:(?:/versions/([0-9]+))|(?:/labels/([^/:]+)))?"
_PREDICT = re.compile(r"/v1/models/([^/:]+)" + _VERSION + ":(classify|regress|predict)", re.I | re.A)
_STATUS = re.compile(r"/v1/models(?:/([^/:]+))?" + _VERSION + r"(?:/(metadata))?", re.I | re.A)
_API = re.compile(r"/v1/.*", re.I | re.A)
# http_server.cc ToHTTPStatusCode(), by status code; _CODES: the same codes for gRPC.
_HTTP = {1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 11: 400, 12: 501, 13: 500,
         14: 503, 15: 500, 16: 401}
_CODES = {code.value[0]: code for code in grpc.StatusCode}
# libevent's evhttp_send_error() page, which evhttp_server.cc sends for a path no handler takes.
_NOT_FOUND = b"<HTML><HEAD>\n<TITLE>404 Not Found</TITLE>\n</HEAD><BODY>\n<H1>Not Found</H1>\n</BODY></HTML>\n"
_PROTO_JSON = {"preserving_proto_field_name": True, "always_print_fields_with_no_presence": True}


def _method(function):
    def method(self, request, context):
        try:
            if not request.HasField("model_spec"):  # every one of TF Serving's handlers checks it first
                raise invalid("Missing ModelSpec")
            return function(self.repository, request)
        except tf.errors.OpError as error:  # grpc_status_util.cc ToGRPCStatus()
            message = error.message if len(error.message) <= 1024 else error.message[:1024] + "...TRUNCATED"
            context.abort(_CODES.get(error.error_code, grpc.StatusCode.UNKNOWN), message)
    return method


def _model(repository, spec):
    choice = spec.WhichOneof("version_choice")
    return repository.get(spec.name, spec.version.value if choice == "version" else None,
                          spec.version_label if choice == "version_label" else None)


class _PredictionService(prediction_grpc.PredictionServiceServicer):  # Classify, Regress...: UNIMPLEMENTED
    @_method
    def Predict(repository, request):  # noqa: N802, N805  predict_impl.cc, then predict_util.cc RunPredict()
        model = _model(repository, request.model_spec)
        name, outputs = model.predict(request.model_spec.signature_name, dict(request.inputs), request.output_filter)
        response = predict_pb2.PredictResponse()
        response.model_spec.name, response.model_spec.signature_name = model.name, name
        response.model_spec.version.value = model.version
        for alias, array in outputs.items():  # TF Serving fills the typed fields (AsProtoField); this tensor_content
            response.outputs[alias].CopyFrom(tf.make_tensor_proto(array))
        return response

    @_method
    def GetModelMetadata(repository, request):  # noqa: N802, N805  get_model_metadata_impl.cc
        if not request.metadata_field:
            raise invalid("GetModelMetadataRequest must specify at least one metadata_field")
        for field in request.metadata_field:
            if field != "signature_def":
                raise invalid(f"Metadata field {field} is not supported")
        return _model(repository, request.model_spec).metadata()


class _ModelService(model_service_pb2_grpc.ModelServiceServicer):
    @_method
    def GetModelStatus(repository, request):  # noqa: N802, N805  get_model_status_impl.cc ignores any label
        spec = request.model_spec
        return repository.status_response(spec.name, spec.version.value if spec.HasField("version") else None)


class RestServer:
    """TF Serving's REST API on `port` and gRPC API on `grpc_port` (None: none; 0: a free port, read back from
    `.port` / `.grpc_port` after `start()`), answering as TF Serving 2.20's source does: http_rest_api_handler.cc
    routes `GET /v1/models/NAME[/versions/N|/labels/L][/metadata]` and `POST ...:predict`, json_tensor.cc reads
    the body, predict_util.cc runs it, http_server.cc maps the status to HTTP. No version labels are defined.

    >>> import tempfile
    >>> server = RestServer(tempfile.mkdtemp(), port=0, grpc_port=0)
    >>> server.start() == server.port > 0 and server.grpc_port > 0
    True
    >>> server.handle("GET", "/v1/models/video")
    (404, b'{\\n    "error": "Could not find any versions of model video"\\n}')
    >>> server.stop()
    """

    def __init__(self, models_root, host="127.0.0.1", port=8501, grpc_port=None, poll_interval=1.0):
        self.repository = models_root if isinstance(models_root, ModelRepository) else ModelRepository(models_root)
        self.host, self.port, self.grpc_port, self.poll_interval = host, int(port), grpc_port, float(poll_interval)
        self._http = self._grpc = None
        self._address = f"[{host}]" if ":" in host else host
        self._threads, self._stopping = [], threading.Event()

    @property
    def url(self):
        """The REST base URL, e.g. http://127.0.0.1:8501."""
        return f"http://{self._address}:{self.port}"

    def start(self):
        """Listens, serves and polls the models root in background threads; returns the REST port."""
        if self._http is None:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a log line per request
            self._http = make_server(self.host, self.port, self, threaded=True)
            self.port = self._http.server_port
            if self.grpc_port is not None:
                self._grpc = grpc.server(futures.ThreadPoolExecutor(16), options=[
                    ("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)])
                for service, add in ((_PredictionService(), prediction_grpc.add_PredictionServiceServicer_to_server),
                                     (_ModelService(), model_service_pb2_grpc.add_ModelServiceServicer_to_server)):
                    service.repository = self.repository
                    add(service, self._grpc)
                self.grpc_port = self._grpc.add_insecure_port(f"{self._address}:{self.grpc_port}")
                self._grpc.start()
            self._stopping.clear()
            self._threads = [threading.Thread(target=self._http.serve_forever, daemon=True),
                             threading.Thread(target=self._poll, daemon=True)]
            for thread in self._threads:
                thread.start()
        return self.port

    def _poll(self):  # as TF Serving polls its base paths every --file_system_poll_wait_seconds
        while not self._stopping.wait(self.poll_interval):
            try:
                self.repository.poll()
            except Exception:  # noqa: BLE001  the poller must outlive a bad pass
                logger.exception("Polling %s failed.", self.repository.root)

    def stop(self):
        """Stops listening and polling; requests in flight finish."""
        http, grpc_server, self._http, self._grpc = self._http, self._grpc, None, None
        self._stopping.set()
        if http is not None:
            http.shutdown()
            http.server_close()
        if grpc_server is not None:
            grpc_server.stop(grace=5).wait()
        for thread in self._threads:
            thread.join(timeout=120)  # a load under way finishes first

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def __call__(self, environ, start_response):
        """The WSGI application: http_server.cc's dispatcher in front of `handle()`."""
        request = Request(environ)
        body = request.get_data()  # read first, as TF Serving does, whatever the path
        if "gzip" in request.headers.get("Content-Encoding", ""):  # evhttp_request.cc uncompresses it
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error):
                body = b""  # a body that does not uncompress reads as empty
        path = urlsplit(environ.get("RAW_URI") or request.path).path or "/"
        if not _API.fullmatch(path):
            return Response(_NOT_FOUND, 404, content_type="text/html")(environ, start_response)
        status, data = self.handle(request.method, path, body)
        return Response(data, status, content_type="application/json")(environ, start_response)

    def handle(self, method, path, body=b""):
        """Answers one request as HttpRestApiHandler::ProcessRequest() does: (HTTP status, body bytes)."""
        try:
            return 200, self._route(method, path, body)
        except tf.errors.OpError as error:
            return _HTTP.get(error.error_code, 500), error_json(error.message)
        except Exception as error:  # noqa: BLE001  a fault of this server's own
            logger.exception("%s %s failed.", method, path)
            return 500, error_json(f"{type(error).__name__}: {error}")

    def _route(self, method, path, body):
        pattern = {"POST": _PREDICT, "GET": _STATUS}.get(method)
        match = pattern and pattern.fullmatch(path)
        name, version, label, action = match.groups() if match else ("",) * 4
        if version and int(version) >= 2**63:  # ParseModelInfo(): SimpleAtoi() into an int64
            raise invalid(f"Failed to convert version: {version} to numeric.")
        name, version, label = unquote(name or ""), version and int(version), label and unquote(label)
        if method == "POST" and action in ("classify", "regress"):
            raise tf.errors.UnimplementedError(None, None, f"This development server does not serve :{action}.")
        if method == "POST" and action == "predict":  # the regex ignores case, this comparison does not
            return self._predict(name, version, label, body)
        if method != "GET" or not match:
            raise invalid(f"Malformed request: {method} {path}")
        if not name:
            raise invalid("Missing model name in request.")
        if action == "metadata":  # http_rest_api_util.cc ToJsonString(GetModelMetadataResponse)
            response, signatures = self.repository.get(name, version, label).metadata(), SignatureDefMap()
            response.metadata["signature_def"].Unpack(signatures)
            body = {"model_spec": json_format.MessageToDict(response.model_spec, **_PROTO_JSON),
                    "metadata": {"signature_def": json_format.MessageToDict(signatures, **_PROTO_JSON)}}
            return json.dumps(body, indent=2).encode()
        response = self.repository.status_response(name, version)  # with a label: every version
        return json_format.MessageToJson(response, always_print_fields_with_no_presence=True).encode()

    def _predict(self, name, version, label, body):
        doc = _json_tensor.parse(body)  # before the model is looked up, as FillPredictRequestFromJson() does
        signature = _json_tensor.signature_name(doc)
        model, key = self.repository.get(name, version, label), signature or "serving_default"
        if key not in model.signature_defs:  # GetInfoMap()
            raise invalid(f'Serving signature name: "{key}" not found in signature def')
        dtypes = {alias: info.dtype for alias, info in model.signature_defs[key].inputs.items()}
        if not dtypes:
            raise invalid(f"Failed to get input map for signature: {signature or 'DEFAULT'}")
        inputs, row_format = _json_tensor.fill_inputs(doc, dtypes)
        return predict_json(model.predict(signature, inputs)[1], row_format)


def serve(models_root, host="127.0.0.1", port=8501, grpc_port=8500, poll_interval=1.0):
    """Serves a models root with TF Serving's REST (`port`) and gRPC (`grpc_port`; None: none) APIs until Ctrl-C.
    Every model's latest version loads first, as in TF Serving, which would then refuse to start if one failed:
    here the failure is logged and the others are served."""
    server = RestServer(models_root, host=host, port=port, grpc_port=grpc_port, poll_interval=poll_interval)
    server.start()
    grpc_text = f", gRPC on {host}:{server.grpc_port}" if grpc_port is not None else ""
    print(f"Serving {server.repository.root}: REST on {server.url}/v1/models/<name>{grpc_text} (Ctrl-C to stop).",
          flush=True)
    try:
        server._stopping.wait()
    except KeyboardInterrupt:
        server.stop()
