"""`ModelRepository`: the models under a models root, loaded on demand."""

import logging
import re
import threading
import time
from pathlib import Path

import tensorflow as tf

from tfllmrec.serving.loaded_model import LoadedModel

logger = logging.getLogger("tfllmrec.serving")

_VERSION_NAME = re.compile(r"[0-9]+")


def _not_found(message):
    return tf.errors.NotFoundError(None, None, message)


def _spec_name(name, version):
    # TF Serving's wording, so error messages read the same against both.
    return f"Latest({name})" if version is None else f"Specific({name}, {version})"


class _Model:
    """What the repository knows of one model folder. Guarded by the repository lock."""

    def __init__(self, name):
        self.name = name
        self.on_disk = {}      # version -> folder stamp, complete versions only
        self.aspired = []      # the versions the policy serves, ascending
        self.loaded = {}       # version -> LoadedModel
        self.loaded_stamp = {} # version -> folder stamp it was loaded from
        self.loading = set()
        self.failed = {}       # version -> (folder stamp, error message)
        self.retired = set()   # once served, now unloaded: reported as END
        self.load_locks = {}   # version -> Lock, so one thread loads a version
        self.missed_scans = 0  # consecutive scans that found no complete version

    def in_use(self):
        return bool(self.loaded)


class ModelRepository:
    """The SavedModels under a models root, as TF Serving polls them.

    Layout: `ROOT/<model name>/<version>/saved_model.pb` (+ `variables/`).
    Hidden folders (`.1.tmp-...`, our exporter's temporary folders),
    non-numeric folders and version folders without `saved_model.pb` are
    ignored, so a version appears only once it is renamed into place whole.

    Versions load lazily, on the first request for the model, and stay cached.
    `refresh()` re-scans the folder (requests call it at most every
    `refresh_interval` seconds): a newer version of a model in use loads in a
    background thread while the old one keeps answering, then replaces it.
    Like TF Serving's default policy (`latest { num_versions: 1 }`, which our
    `models.config` writes), only the newest `num_versions` versions are
    served; a version that fails to load leaves the previous one in service,
    and a version folder replaced in place is loaded again.

    Args:
        root: str or Path. The models root.
        num_versions: int. How many of the newest versions of each model to serve.
        refresh_interval: float. Seconds between two re-scans triggered by requests.

    Example:
    >>> repository = ModelRepository("saved_models")
    >>> repository.model_names()
    ['video']
    >>> repository.latest("video").version
    2
    """

    def __init__(self, root, num_versions=1, refresh_interval=1.0):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"Models root {self.root} is not a folder; export a model into "
                f"{self.root}/<name>/<version>/ first.")
        if num_versions < 1:
            raise ValueError(f"num_versions must be at least 1, got {num_versions}.")
        self.num_versions = int(num_versions)
        self.refresh_interval = float(refresh_interval)
        self._lock = threading.Lock()
        self._scan_lock = threading.Lock()
        self._models = {}
        self._last_scan = float("-inf")
        self.refresh()

    # Scanning ------------------------------------------------------------

    def _scan_model(self, folder):
        versions = {}
        for child in folder.iterdir():
            if not _VERSION_NAME.fullmatch(child.name):
                continue
            try:
                if not (child / "saved_model.pb").is_file():
                    continue
                stat = child.stat()
            except OSError:  # renamed away between listing and stat
                continue
            # A re-export under the same number replaces the folder (new inode).
            versions[int(child.name)] = (stat.st_ino, stat.st_mtime_ns)
        return versions

    def _scan(self):
        """{model name: {version: stamp}}; None for a model that could not be read."""
        found = {}
        for folder in self.root.iterdir():
            if folder.name.startswith("."):
                continue
            try:
                if not folder.is_dir():
                    continue
                versions = self._scan_model(folder)
            except OSError as error:
                logger.warning("Could not scan %s: %s", folder, error)
                found[folder.name] = None
                continue
            if versions:
                found[folder.name] = versions
        return found

    def refresh(self):
        """Re-scans the models root now; starts loading new versions of models in use.

        Example:
        >>> repository.refresh()
        """
        with self._scan_lock:
            self._refresh_locked()

    def maybe_refresh(self):
        """Re-scans unless the last scan is under `refresh_interval` seconds old.

        A scan already under way in another thread makes this return at once.
        """
        if time.monotonic() - self._last_scan < self.refresh_interval:
            return
        if not self._scan_lock.acquire(blocking=False):
            return
        try:
            self._refresh_locked()
        finally:
            self._scan_lock.release()

    def _refresh_locked(self):
        try:
            found = self._scan()
        except OSError as error:
            # Keep serving what is loaded: the root may be mid-replacement.
            logger.warning("Could not scan models root %s: %s", self.root, error)
            self._last_scan = time.monotonic()
            return
        to_load = []
        with self._lock:
            for name, model in list(self._models.items()):
                if name in found:
                    model.missed_scans = 0
                    continue
                # Our exporter replaces a version by two renames; a scan
                # between them sees no version at all. A model in use is
                # dropped only when a second scan confirms it is gone.
                model.missed_scans += 1
                if not model.in_use() or model.missed_scans >= 2:
                    logger.info("Model %s is gone from %s; unloading it.", name, self.root)
                    del self._models[name]
            for name, versions in found.items():
                if versions is None:
                    continue
                model = self._models.get(name)
                if model is None:
                    model = self._models[name] = _Model(name)
                model.on_disk = versions
                to_load += self._reconcile(model)
            self._last_scan = time.monotonic()
        self._load_in_background(to_load)

    def _reconcile(self, model):
        """Applies the version policy to `model`. Returns (name, version) pairs to load.

        Called with the lock held.
        """
        model.aspired = sorted(model.on_disk)[-self.num_versions:]
        for version, (stamp, _) in list(model.failed.items()):
            # A failed version is retried once its folder is replaced.
            if model.on_disk.get(version) != stamp:
                del model.failed[version]
        # Retire old versions only once a newer one can answer in their place.
        if any(version in model.loaded for version in model.aspired):
            for version in list(model.loaded):
                if version not in model.aspired:
                    logger.info("Unloading %s version %d.", model.name, version)
                    del model.loaded[version]
                    model.loaded_stamp.pop(version, None)
                    model.retired.add(version)
        if not model.in_use():
            return []  # lazy: the first request loads it
        to_load = []
        for version in model.aspired:
            if version in model.loading or version in model.failed:
                continue
            # A version folder replaced in place (an export with overwrite) is
            # reloaded; the old model answers until the new one is ready.
            if version not in model.loaded or model.loaded_stamp.get(version) != model.on_disk.get(version):
                model.loading.add(version)
                to_load.append((model.name, version))
        return to_load

    @staticmethod
    def _is_current(model, version):
        return version in model.loaded and model.loaded_stamp.get(version) == model.on_disk.get(version)

    # Loading -------------------------------------------------------------

    def _load_in_background(self, pairs):
        for name, version in pairs:
            thread = threading.Thread(
                target=self._background_load, args=(name, version),
                name=f"load-{name}-{version}", daemon=True)
            thread.start()

    def _background_load(self, name, version):
        try:
            self._load(name, version)
        except tf.errors.OpError:
            pass  # already logged and recorded as the version's status
        except Exception:  # noqa: BLE001  a thread must not die silently
            logger.exception("Loading %s version %d failed.", name, version)

    def _load(self, name, version, latest=False):
        """Loads one version (once, whichever thread asks first) and caches it.

        A version already loaded is returned as is unless its folder was
        replaced since, in which case it is loaded again. `latest`: the
        request asked for the latest version (for the wording of errors).
        """
        spec = _spec_name(name, None if latest else version)
        with self._lock:
            model = self._models.get(name)
            if model is None:
                raise _not_found(f"Servable not found for request: {spec}")
            if self._is_current(model, version):
                return model.loaded[version]
            lock = model.load_locks.setdefault(version, threading.Lock())
        with lock:
            with self._lock:
                if self._is_current(model, version):
                    model.loading.discard(version)
                    return model.loaded[version]
                stamp = model.on_disk.get(version)
                if version in model.failed:
                    model.loading.discard(version)
                    raise _not_found(
                        f"Servable not found for request: {spec}: "
                        f"version {version} failed to load: {model.failed[version][1]}")
                model.loading.add(version)
            path = self.root / name / str(version)
            started = time.monotonic()
            try:
                loaded = LoadedModel.load(name, version, path)
            except Exception as error:  # noqa: BLE001  any load failure is the version's status
                message = f"{type(error).__name__}: {error}"
                logger.error("Loading %s version %d from %s failed: %s", name, version, path, message)
                with self._lock:
                    model.loading.discard(version)
                    model.failed[version] = (stamp, message)
                raise _not_found(
                    f"Servable not found for request: {spec}: "
                    f"version {version} failed to load: {message}") from error
            logger.info("Loaded %s version %d in %.1f s.", name, version, time.monotonic() - started)
            to_load = []
            with self._lock:
                model.loading.discard(version)
                # The folder may have vanished or left the policy meanwhile:
                # answer this request, but do not cache a version no one aspires to.
                if self._models.get(name) is model and version in model.aspired:
                    model.loaded[version] = loaded
                    model.loaded_stamp[version] = stamp
                    model.retired.discard(version)
                    to_load = self._reconcile(model)
        self._load_in_background(to_load)
        return loaded

    # Lookups -------------------------------------------------------------

    def model_names(self):
        """The models with at least one complete version on disk, sorted."""
        self.maybe_refresh()
        with self._lock:
            return sorted(self._models)

    def versions(self, name):
        """The versions of `name` the policy serves (loaded or not), ascending."""
        self.maybe_refresh()
        with self._lock:
            model = self._models.get(name)
            if model is None:
                raise _not_found(f"Could not find any versions of model {name}")
            return list(model.aspired)

    def latest(self, name):
        """The newest loaded version of `name`, loading the newest on disk if none is.

        While a newer version loads, this keeps returning the previous one.

        Raises:
            tf.errors.NotFoundError: no such model, or its version failed to load.

        Example:
        >>> repository.latest("video").predict("serving_default", {"user_id": ["196"]})
        """
        return self.get(name)

    def get(self, name, version=None):
        """A version of a model as a `LoadedModel`; `version=None` means the latest.

        Args:
            name: str. The model's name.
            version: int or None.

        Returns:
            LoadedModel.

        Raises:
            tf.errors.NotFoundError: no such model or version (or a version
                outside the policy, or one that failed to load).

        Example:
        >>> repository.get("video", 1).version
        1
        """
        self.maybe_refresh()
        with self._lock:
            model = self._models.get(name)
            if model is None:
                raise _not_found(f"Servable not found for request: {_spec_name(name, version)}")
            if version is None:
                serving = [v for v in model.loaded if v in model.aspired] or list(model.loaded)
                if serving:
                    return model.loaded[max(serving)]
                candidates = [v for v in model.aspired if v not in model.failed]
                if not candidates:
                    reasons = "; ".join(f"version {v} failed to load: {m}" for v, (_, m) in sorted(model.failed.items()))
                    raise _not_found(f"Servable not found for request: {_spec_name(name, version)}"
                                     + (f": {reasons}" if reasons else ""))
                target = max(candidates)
            else:
                version = int(version)
                if version in model.loaded:
                    return model.loaded[version]
                if version not in model.aspired:
                    raise _not_found(f"Servable not found for request: {_spec_name(name, version)}")
                target = version
        return self._load(name, target, latest=version is None)

    def status(self, name, version=None):
        """The version statuses of TF Serving's `GET /v1/models/NAME[/versions/N]`.

        Asking loads the latest version (or `version`) if it is not loaded yet,
        so "AVAILABLE" means a request will be answered.

        Args:
            name: str. The model's name.
            version: int or None: all versions the repository tracks.

        Returns:
            list of {"version": str, "state": str, "status": {"error_code", "error_message"}},
            newest first. States: AVAILABLE, LOADING, START (on disk, not yet
            loaded), END (unloaded, or failed to load: error_code UNKNOWN).

        Raises:
            tf.errors.NotFoundError: no such model or version.

        Example:
        >>> repository.status("video")
        [{'version': '2', 'state': 'AVAILABLE', 'status': {'error_code': 'OK', 'error_message': ''}}]
        """
        try:
            self.get(name, version)
        except tf.errors.NotFoundError:
            pass  # reported below, as a missing model/version or a failed load
        with self._lock:
            model = self._models.get(name)
            if model is None:
                raise _not_found(f"Could not find any versions of model {name}")
            tracked = set(model.aspired) | set(model.loaded) | model.loading | set(model.failed) | model.retired
            if version is not None:
                version = int(version)
                if version not in tracked:
                    raise _not_found(f"Could not find version {version} of model {name}")
                tracked = {version}
            statuses = []
            for v in sorted(tracked, reverse=True):
                state, code, message = "START", "OK", ""
                if v in model.loaded:
                    state = "AVAILABLE"
                elif v in model.loading:
                    state = "LOADING"
                elif v in model.failed:
                    state, code, message = "END", "UNKNOWN", model.failed[v][1]
                elif v in model.retired:
                    state = "END"
                statuses.append({"version": str(v), "state": state,
                                 "status": {"error_code": code, "error_message": message}})
            return statuses

    def load_all(self):
        """Loads the latest version of every model now (what TF Serving does at start).

        Returns:
            {model name: error message or None}.

        Example:
        >>> repository.load_all()
        {'video': None}
        """
        results = {}
        for name in self.model_names():
            try:
                self.get(name)
                results[name] = None
            except tf.errors.OpError as error:
                results[name] = error.message
        return results
