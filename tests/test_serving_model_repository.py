"""`ModelRepository`: discovery, lazy loading, and version swaps under load."""

import os
import shutil
import threading
import time

import pytest
import tensorflow as tf

from test_serving_toy import call, expected_recommendation, make_root, toy_versions  # noqa: F401
from tfllmrec.serving import ModelRepository, RestServer


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def drop_version(root, source, version):
    """Writes a version as our exporter does: a hidden temp folder, then a rename."""
    tmp = root / "toy" / f".{version}.tmp-test"
    shutil.copytree(source, tmp)
    return tmp, lambda: os.rename(tmp, root / "toy" / str(version))


def test_discovery_ignores_hidden_non_numeric_and_incomplete_folders(tmp_path, toy_versions):  # noqa: F811
    root = make_root(tmp_path, toy_versions)
    shutil.copytree(toy_versions[2], root / "toy" / ".2.tmp-abc")  # exporter's temp folder
    (root / "toy" / "3").mkdir()                                   # no saved_model.pb yet
    (root / "toy" / "notes").mkdir()
    shutil.copytree(toy_versions[2], root / "toy" / "v4")
    shutil.copytree(toy_versions[2], root / ".hidden" / "1")
    (root / "empty_model").mkdir()
    (root / "models.config").write_text("model_config_list {}\n")

    repository = ModelRepository(root)
    assert repository.model_names() == ["toy"]
    assert repository.versions("toy") == [1]
    assert repository.status("toy") == [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]
    with pytest.raises(tf.errors.NotFoundError):
        repository.get("empty_model")
    with pytest.raises(tf.errors.NotFoundError):
        repository.get("toy", 3)


def test_loads_lazily_once_and_predicts(tmp_path, toy_versions):  # noqa: F811
    repository = ModelRepository(make_root(tmp_path, toy_versions))
    model = repository.latest("toy")
    assert repository.get("toy") is model and repository.get("toy", 1) is model
    assert model.signature_names == ["encode_items", "serving_default"]
    assert model.defaults("serving_default") == {"k": 3}
    outputs = model.predict("serving_default", {"user_id": tf.constant(["u1"])})
    assert [x.decode() for x in outputs["item_ids"][0]] == expected_recommendation(1)["item_ids"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="'user_id'"):
        model.predict("serving_default", {"k": tf.constant(2)})


def test_a_version_overwritten_in_place_is_reloaded_and_never_missing(tmp_path, toy_versions):  # noqa: F811
    # tfllmrec.export.atomic_dir(overwrite=True): rename the old folder away, then the new one in.
    root = make_root(tmp_path, toy_versions)
    repository = ModelRepository(root)
    first = repository.latest("toy")
    os.rename(root / "toy" / "1", root / "toy" / ".1.old-123")
    repository.refresh()  # a scan between the two renames still serves version 1
    assert repository.latest("toy") is first
    shutil.copytree(toy_versions[2], root / "toy" / "1")
    repository.refresh()

    def recommends(version):
        outputs = repository.latest("toy").predict("serving_default", {"user_id": tf.constant(["u1"])})
        return [x.decode() for x in outputs["item_ids"][0]] == expected_recommendation(version)["item_ids"]

    assert wait_for(lambda: recommends(2))
    assert repository.latest("toy").version == 1
    shutil.rmtree(root / "toy")
    repository.refresh()
    repository.refresh()  # gone in two scans in a row: unloaded
    with pytest.raises(tf.errors.NotFoundError):
        repository.get("toy")


def test_a_version_that_fails_to_load_leaves_the_previous_one_serving(tmp_path, toy_versions):  # noqa: F811
    root = make_root(tmp_path, toy_versions)
    repository = ModelRepository(root)
    assert repository.latest("toy").version == 1
    broken = root / "toy" / ".2.tmp-broken"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    os.rename(broken, root / "toy" / "2")
    repository.refresh()

    def failed():
        return any(s["version"] == "2" and s["state"] == "END" for s in repository.status("toy"))

    assert wait_for(failed)
    statuses = {s["version"]: s for s in repository.status("toy")}
    assert statuses["2"]["status"]["error_code"] == "UNKNOWN" and statuses["2"]["status"]["error_message"]
    assert statuses["1"]["state"] == "AVAILABLE"
    assert repository.latest("toy").version == 1


def test_new_version_is_swapped_in_without_failing_requests(tmp_path, toy_versions):  # noqa: F811
    root = make_root(tmp_path, toy_versions)
    server = RestServer(root, port=0, poll_interval=0.2)
    port = server.start()
    old, new = expected_recommendation(1), expected_recommendation(2)
    seen = {"old": 0, "new": 0}
    failures = []
    stop = threading.Event()
    started = threading.Barrier(5, timeout=30)
    lock = threading.Lock()

    def stream():
        started.wait()
        for _ in range(150):  # bounded; the test stops the stream once the swap is seen
            if stop.is_set():
                return
            try:
                status, body = call(port, "POST", "/v1/models/toy:predict", {"instances": ["u1", "u2"]}, timeout=10)
            except Exception as error:  # noqa: BLE001  any transport failure is a failed request
                status, body = None, repr(error)
            with lock:
                if status == 200 and body["predictions"] == [old, old]:
                    seen["old"] += 1
                elif status == 200 and body["predictions"] == [new, new]:
                    seen["new"] += 1
                else:
                    failures.append((status, body))

    threads = [threading.Thread(target=stream, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        started.wait()
        assert wait_for(lambda: seen["old"] >= 8, timeout=10)
        _, publish = drop_version(root, toy_versions[2], 2)
        server.repository.refresh()
        assert call(port, "POST", "/v1/models/toy:predict", {"instances": ["u1"]})[1] == {"predictions": [old]}
        publish()
        assert wait_for(lambda: call(port, "POST", "/v1/models/toy:predict",
                                     {"instances": ["u1"]})[1] == {"predictions": [new]}, timeout=5)
        assert wait_for(lambda: seen["new"] >= 8, timeout=10)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in threads)
        assert failures == []
        assert seen["old"] > 0 and seen["new"] > 0

        # The old version is unloaded, as under TF Serving's default policy.
        assert call(port, "GET", "/v1/models/toy") == (200, {"model_version_status": [
            {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}},
            {"version": "1", "state": "END", "status": {"error_code": "OK", "error_message": ""}}]})
        assert call(port, "GET", "/v1/models/toy/metadata")[1]["model_spec"]["version"] == "2"
        assert call(port, "POST", "/v1/models/toy/versions/2:predict", {"instances": ["u1"]}) == (
            200, {"predictions": [new]})
        assert call(port, "POST", "/v1/models/toy/versions/1:predict", {"instances": ["u1"]})[0] == 404
    finally:
        stop.set()
        server.stop()
