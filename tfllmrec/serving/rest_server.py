"""`RestServer`: TensorFlow Serving's REST API over a models root, for local development."""

import json
import logging
import re
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import tensorflow as tf

from tfllmrec.serving import _json_tensor
from tfllmrec.serving.model_repository import ModelRepository

logger = logging.getLogger("tfllmrec.serving")

# TF Serving's routes (tensorflow_serving/model_servers/http_rest_api_util.cc).
_PREDICT_PATH = re.compile(
    r"/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?:(classify|regress|predict)",
    re.IGNORECASE)
_STATUS_PATH = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:/versions/(\d+)|/labels/([^/:]+))?(?:/(metadata))?",
    re.IGNORECASE)

# TF Serving's mapping of status codes to HTTP (http_server.cc), except that
# our malformed paths are 404 rather than 400.
_HTTP_STATUS = {
    tf.errors.CANCELLED: 499,
    tf.errors.UNKNOWN: 500,
    tf.errors.INVALID_ARGUMENT: 400,
    tf.errors.DEADLINE_EXCEEDED: 504,
    tf.errors.NOT_FOUND: 404,
    tf.errors.ALREADY_EXISTS: 409,
    tf.errors.PERMISSION_DENIED: 403,
    tf.errors.RESOURCE_EXHAUSTED: 429,
    tf.errors.FAILED_PRECONDITION: 400,
    tf.errors.ABORTED: 409,
    tf.errors.OUT_OF_RANGE: 400,
    tf.errors.UNIMPLEMENTED: 501,
    tf.errors.INTERNAL: 500,
    tf.errors.UNAVAILABLE: 503,
    tf.errors.DATA_LOSS: 500,
    tf.errors.UNAUTHENTICATED: 401,
}

# Large enough for big batches of text; a bound so one request cannot eat the machine.
MAX_BODY_BYTES = 256 * 1024 * 1024

_ROUTES_HELP = ("This server answers GET /v1/models/NAME[/versions/N][/metadata] and "
                "POST /v1/models/NAME[/versions/N]:predict.")


def _invalid(message):
    return tf.errors.InvalidArgumentError(None, None, message)


def _not_found(message):
    return tf.errors.NotFoundError(None, None, message)


class _BodyError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True  # a hung client must not keep the process alive
    # socketserver queues only 5 pending connections; under concurrent clients
    # Linux then resets the rest, failing valid requests.
    request_queue_size = socket.SOMAXCONN

    def __init__(self, address, handler, app):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        super().__init__(address, handler)

    def server_bind(self):
        # HTTPServer.server_bind resolves the host's FQDN, a DNS lookup that
        # can stall for seconds on a machine without network access.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = host, port


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as TF Serving's clients expect
    server_version = "tfllmrec-serve"
    # Idle keep-alive connections are closed after this, freeing their thread.
    timeout = 60

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _dispatch(self):
        try:
            body = self._read_body()
        except _BodyError as error:
            # The body was not read: the connection cannot carry another request.
            self.close_connection = True
            self._reply(error.status, {"error": error.message})
            return
        status, payload = self.server.app.handle(self.command, self.path, body)
        self._reply(status, payload)

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
            if size < 0:
                raise ValueError
        except ValueError:
            raise _BodyError(400, f"Invalid Content-Length: {length!r}") from None
        if size > MAX_BODY_BYTES:
            raise _BodyError(413, f"Request body of {size} bytes exceeds the {MAX_BODY_BYTES}-byte limit.")
        return self.rfile.read(size)

    def _read_chunked(self):
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BodyError(400, "Malformed chunked request body.") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BodyError(413, f"Request body exceeds the {MAX_BODY_BYTES}-byte limit.")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _reply(self, status, payload):
        # Raw UTF-8 and bare NaN/Infinity, as TF Serving writes them.
        try:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate echoed from the request
            data = json.dumps(payload).encode("ascii")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left; nothing to tell it

    def log_message(self, format, *args):  # noqa: A002  (BaseHTTPRequestHandler's signature)
        logger.info("%s - %s", self.address_string(), format % args)


class RestServer:
    """TensorFlow Serving's REST API over the SavedModels of a models root.

    Answers, shaped as TF Serving does (https://www.tensorflow.org/tfx/serving/api_rest):
    `GET /v1/models/NAME[/versions/N]` (version status),
    `GET /v1/models/NAME[/versions/N]/metadata` (signatures) and
    `POST /v1/models/NAME[/versions/N]:predict` in row (`instances`) or
    columnar (`inputs`) format. Errors are `{"error": message}`: 400 for a
    bad request, 404 for an unknown model, version or path, 5xx only for a
    failure of the server itself (the server keeps serving after any error).

    Client code written against it runs unchanged against TF Serving unless it
    relies on one of these points, where TF Serving is unspecified, stricter
    or awkward. This server:
    - lets a request leave out an input that has a SignatureDef default (`k`);
    - feeds a bare value (`"instances": ["u1"]`, `"inputs": ["u1"]`) to the
      one input without a default, even if others with defaults exist;
    - in row format, takes a scalar input (shape `[]`, like `k`, which has
      no batch axis) only if every instance gives the same value, and passes
      it once; instances must all name the same inputs;
    - refuses unknown input names in the columnar format too (TF Serving
      ignores them there), so a typo cannot silently fall back to a default;
    - writes a string output that is not UTF-8 as `{"b64": ...}` (TF Serving
      does so only for outputs named `*_bytes`, which this server does too);
    - answers 404 for any path it does not serve (TF Serving: 400 under
      /v1/), and 400 for `:classify`, `:regress` and version labels;
    - reloads a version folder replaced in place (an export with overwrite).

    Args:
        models_root: str, Path or ModelRepository. The models root.
        host: str. The address to listen on; keep 127.0.0.1 for local use.
        port: int. The port; 0 picks a free one (see `start()`'s result).
        num_versions: int. How many of the newest versions of each model to serve.
        poll_interval: float. Seconds between two scans of the models root.

    Example:
    >>> server = RestServer("saved_models", port=0)
    >>> port = server.start()
    >>> # POST http://127.0.0.1:{port}/v1/models/video:predict {"instances": ["196"]}
    >>> server.stop()
    """

    def __init__(self, models_root, host="127.0.0.1", port=8501, num_versions=1, poll_interval=1.0):
        if isinstance(models_root, ModelRepository):
            self.repository = models_root
        else:
            self.repository = ModelRepository(
                models_root, num_versions=num_versions, refresh_interval=poll_interval)
        self.host = host
        self.port = int(port)
        self.poll_interval = float(poll_interval)
        self._httpd = None
        self._thread = None
        self._poller = None
        self._stop_polling = threading.Event()
        self._close_lock = threading.Lock()

    @property
    def url(self):
        """The base URL, e.g. http://127.0.0.1:8501."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self):
        """Listens and serves in background threads; returns the bound port.

        Returns:
            int. The port (the one picked by the OS when `port=0`).

        Example:
        >>> port = RestServer("saved_models", port=0).start()
        """
        if self._httpd is not None:
            return self.port
        try:
            self._httpd = _HttpServer((self.host, self.port), _Handler, self)
        except OSError as error:
            raise OSError(error.errno, f"Cannot listen on {self.host}:{self.port}: {error.strerror}") from error
        self.port = self._httpd.server_address[1]
        self._stop_polling.clear()
        # TF Serving polls its model folders on its own: a new version loads
        # (for models in use) before the next request needs it.
        self._poller = threading.Thread(target=self._poll, name="tfllmrec-serve-poll", daemon=True)
        self._poller.start()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
            name="tfllmrec-serve", daemon=True)
        self._thread.start()
        logger.info("Serving %s on %s", self.repository.root, self.url)
        return self.port

    def serve_forever(self):
        """Starts (if needed) and blocks until Ctrl-C or `stop()`.

        Example:
        >>> RestServer("saved_models").serve_forever()
        """
        self.start()
        thread = self._thread
        try:
            while thread.is_alive():
                thread.join(0.5)  # a timed join, so Ctrl-C is delivered
        except KeyboardInterrupt:
            logger.info("Interrupted; stopping.")
        finally:
            self.stop()

    def stop(self):
        """Stops listening and waits for the serving threads (requests in flight finish).

        Example:
        >>> server.stop()
        """
        with self._close_lock:
            httpd, thread, poller = self._httpd, self._thread, self._poller
            if httpd is None:
                return
            self._httpd = self._thread = self._poller = None
            self._stop_polling.set()
            httpd.shutdown()
            thread.join(timeout=10)
            httpd.server_close()
            if poller is not None:
                poller.join(timeout=10)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def _poll(self):
        while not self._stop_polling.wait(self.poll_interval):
            try:
                self.repository.refresh()
            except Exception:  # noqa: BLE001  the poller must outlive a bad scan
                logger.exception("Scanning %s failed.", self.repository.root)

    # Request handling ------------------------------------------------------

    def handle(self, method, path, body=b""):
        """Answers one request; never raises.

        Args:
            method: str. "GET", "POST", ...
            path: str. The request target, e.g. "/v1/models/toy:predict".
            body: bytes. The request body.

        Returns:
            (HTTP status code, JSON-ready dict).

        Example:
        >>> server.handle("POST", "/v1/models/toy:predict", b'{"instances": ["u1"]}')
        (200, {'predictions': [{'item_ids': ['a', 'b', 'c'], 'scores': [5.0, 4.0, 3.0]}]})
        """
        try:
            return 200, self._route(method.upper(), urlsplit(path).path, body)
        except RecursionError:
            return 400, {"error": "The request's JSON is nested too deeply."}
        except tf.errors.OpError as error:
            status = _HTTP_STATUS.get(error.error_code, 500)
            if status >= 500:
                logger.error("%s %s failed: %s", method, path, error.message)
            return status, {"error": error.message}
        except Exception as error:  # noqa: BLE001  any other failure is the server's own
            logger.exception("%s %s failed.", method, path)
            return 500, {"error": f"Internal error: {type(error).__name__}: {error}"}

    def _route(self, method, path, body):
        match = None
        if method == "POST":
            match = _PREDICT_PATH.fullmatch(path)
        elif method == "GET":
            match = _STATUS_PATH.fullmatch(path)
        if match is None:
            raise _not_found(f"Malformed request: {method} {path}. {_ROUTES_HELP}")
        name, version, label, action = match.groups()
        name = unquote(name) if name else name
        if label is not None:
            raise _invalid(f"Unrecognized servable version label: {unquote(label)}. "
                           "This server has no version labels; use /versions/N.")
        version = int(version) if version is not None else None
        if method == "GET":
            if not name:
                raise _invalid("Missing model name in request. Models: "
                               + (", ".join(self.repository.model_names()) or "none") + ".")
            if action:
                return self.repository.get(name, version).metadata()
            return {"model_version_status": self.repository.status(name, version)}
        if action.lower() != "predict":
            raise _invalid(f"This server implements :predict only, not :{action}. {_ROUTES_HELP}")
        return self._predict(name, version, body)

    def _predict(self, name, version, body):
        document = _json_tensor.parse_body(body)
        signature = _json_tensor.signature_name(document)
        # The version is resolved once: the whole request runs on the model
        # it got, even if a newer version replaces it meanwhile.
        model = self.repository.get(name, version)
        specs = model.input_specs(signature)
        inputs, row_format = _json_tensor.decode_inputs(document, specs, model.defaults(signature), signature)
        outputs = model.predict(signature, inputs)
        return _json_tensor.encode_outputs(outputs, row_format)


def serve(models_root, host="127.0.0.1", port=8501, num_versions=1, preload=True):
    """Serves a models root with TF Serving's REST API until Ctrl-C.

    Args:
        models_root: str or Path. Holds `<model name>/<version>/saved_model.pb`.
        host: str. The address to listen on (127.0.0.1: this machine only).
        port: int. The port (TF Serving's REST default is 8501).
        num_versions: int. How many of the newest versions of each model to serve.
        preload: bool. Load every model's latest version before the first request
            (as TF Serving does), so load errors show at start.

    Example:
    >>> serve("saved_models", port=8501)  # doctest: +SKIP
    """
    server = RestServer(models_root, host=host, port=port, num_versions=num_versions)
    server.start()
    names = server.repository.model_names()
    if preload:
        for name, error in server.repository.load_all().items():
            version = server.repository.versions(name)[-1]
            print(f"  {name} version {version}: " + ("AVAILABLE" if error is None else f"FAILED: {error}"),
                  flush=True)
    if not names:
        print(f"No models yet under {server.repository.root}: export one to "
              f"{server.repository.root}/<name>/<version>/; it is picked up without a restart.", flush=True)
    print(f"Serving {server.repository.root} with TF Serving's REST API on {server.url}/v1/models/<name> "
          "(Ctrl-C to stop).", flush=True)
    server.serve_forever()
