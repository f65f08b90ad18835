"""`ModelRepository`: the models of a models root, versioned as TF Serving's file system source does."""

import logging
import re
import threading
from pathlib import Path

import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_status_pb2

from tfllmrec.errors import PathError  # a FileNotFoundError too
from tfllmrec.files import require_path
from tfllmrec.serving._json_write import invalid
from tfllmrec.serving.loaded_model import LoadedModel

logger = logging.getLogger("tfllmrec.serving")
_VERSION = re.compile(r"\s*[+-]?[0-9]+\s*")  # what absl::SimpleAtoi() takes
_STATE = get_model_status_pb2.ModelVersionStatus.State


class ModelRepository:
    """The SavedModels under `root/<name>/<version>/`, versioned as TF Serving's default policy does.

    Models are the folders of `root` (not hidden); versions, their children named by an integer, as
    file_system_storage_path_source.cc reads them (so our exporter's `.2.tmp-...` is skipped). As under
    `latest { num_versions: 1 }`, the highest loads, then the one it replaces is unloaded; one that fails
    leaves the previous one serving and is retried only after leaving the folder. The constructor polls once.
    """

    def __init__(self, root):
        self.root, self._lock, self._poll_lock = Path(root), threading.Lock(), threading.Lock()
        require_path(self.root, "folder", "Models root", "pass the folder that holds your model folders "
                     "(`tfllmrec export --output ROOT/NAME` writes ROOT/NAME/<version>)", PathError)
        self._loaded = {}  # name -> {version: LoadedModel}
        self._states = {}  # name -> {version: (state, error or None)}: what TF Serving's state monitor reports
        self._failed = {}  # name -> versions that failed to load and are still on disk
        self.poll()

    def _scan(self):
        found = {}
        for folder in sorted(self.root.iterdir()):
            try:
                if folder.name.startswith(".") or not folder.is_dir():
                    continue
                children = sorted(folder.iterdir())
            except OSError:  # renamed away meanwhile: the next poll sees what took its place
                continue
            # A later duplicate ("1" after "01") wins, as in IndexChildrenByVersion().
            found[folder.name] = {int(child.name): child for child in children
                                  if _VERSION.fullmatch(child.name) and -2**63 <= int(child.name) < 2**63}
        return found

    def poll(self):
        """Scans the root once: loads each model's highest version and unloads what it replaces."""
        with self._poll_lock:
            found = self._scan()
            for name in sorted(set(found) | set(self._states)):
                self._apply_policy(name, found.get(name, {}))

    def _apply_policy(self, name, versions):
        with self._lock:
            loaded, states = self._loaded.setdefault(name, {}), self._states.setdefault(name, {})
            failed = self._failed.setdefault(name, set())
            failed.intersection_update(versions)
            aspired = max(versions, default=None)
            load = aspired is not None and aspired not in loaded and aspired not in failed
            if load:
                states[aspired] = (_STATE.LOADING, None)
        if load:
            model, error = self._load(name, aspired, versions[aspired])
            with self._lock:
                if model is None:
                    failed.add(aspired)
                    states[aspired] = (_STATE.END, error)
                else:
                    loaded[aspired], states[aspired] = model, (_STATE.AVAILABLE, None)
        with self._lock:
            if aspired is None or aspired in loaded:
                for version in [version for version in loaded if version != aspired]:
                    del loaded[version]  # requests holding it finish; its session goes with the last
                    states[version] = (_STATE.END, None)

    @staticmethod
    def _load(name, version, path):
        try:
            return LoadedModel.load(name, version, path), None
        except Exception as error:  # noqa: BLE001  any failure is the version's status
            if not isinstance(error, tf.errors.OpError):  # Python's loader raises OSError, ValueError, ...
                error = tf.errors.UnknownError(None, None, f"{type(error).__name__}: {error}")
            logger.error("Loading %s version %d from %s failed: %s", name, version, path, error.message)
            return None, error

    def get(self, name, version=None, label=None):
        """The LoadedModel a request gets: `version`, or the highest loaded (server_core.cc, basic_manager.cc).
        No labels are defined: any label is an InvalidArgumentError, as an unknown one is in TF Serving."""
        if not name:
            raise invalid("ModelSpec has no name specified.")
        if label is not None:
            raise invalid(f"Unrecognized servable version label: {label}")
        with self._lock:
            loaded = self._loaded.get(name, {})
            if version is None and loaded:
                return loaded[max(loaded)]
            if version in loaded:
                return loaded[version]
        request = f"Latest({name})" if version is None else f"Specific({name}, {version})"
        raise tf.errors.NotFoundError(None, None, f"Servable not found for request: {request}")

    def status_response(self, name, version=None):
        """The GetModelStatusResponse of get_model_status_impl.cc, newest version first."""
        with self._lock:
            states = dict(self._states.get(name, {}))
        if version is not None and version not in states:
            raise tf.errors.NotFoundError(None, None, f"Could not find version {version} of model {name}")
        if not states:
            raise tf.errors.NotFoundError(None, None, f"Could not find any versions of model {name}")
        response = get_model_status_pb2.GetModelStatusResponse()
        for number in sorted(states, reverse=True) if version is None else [version]:
            state, error = states[number]
            entry = response.model_version_status.add(version=number, state=state)
            entry.status.SetInParent()  # always set by TF Serving, so OK prints as {"error_code": "OK", ...}
            if error is not None:
                entry.status.error_code, entry.status.error_message = error.error_code, error.message
        return response

    def status(self, name, version=None):
        """`model_version_status` of GET /v1/models/NAME[/versions/N], e.g. `[{"version": "2", "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""}}]`."""
        response = self.status_response(name, version)
        return json_format.MessageToDict(response, always_print_fields_with_no_presence=True)["model_version_status"]
