"""Versions under a models root, as TF Serving's file system source and manager treat them.

Sources (tensorflow/serving 2.20.0): sources/storage_path/file_system_storage_path_source.cc
(ParseVersionNumber, IndexChildrenByVersion, AspireLatestVersions: children that are not
integers are skipped, the highest is aspired), the availability-preserving policy (the old
version is unloaded once the new one is available; a failed load leaves it serving),
get_model_status_impl.cc (states), basic_manager.cc ("Servable not found for request").
"""

import os
import shutil
import threading
import time

import pytest
import tensorflow as tf

from test_serving_toy import call_json, expected_recommendation, make_root, toy_versions  # noqa: F401
from tfllmrec.serving import ModelRepository, RestServer

OK = {"error_code": "OK", "error_message": ""}


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def recommend(repository, version=None):
    _, outputs = repository.get("toy", version).predict("", {"user_id": tf.constant(["u1"]).numpy()})
    return [item.decode() for item in outputs["item_ids"][0]]


def test_discovery_skips_hidden_and_non_numeric_folders(tmp_path, toy_versions):  # noqa: F811
    root = make_root(tmp_path, toy_versions)
    shutil.copytree(toy_versions[2], root / "toy" / ".2.tmp-abc")  # our exporter's temporary folder
    shutil.copytree(toy_versions[2], root / "toy" / "v4")
    shutil.copytree(toy_versions[2], root / ".hidden" / "1")
    (root / "empty_model").mkdir()
    (root / "models.config").write_text("model_config_list {}\n")
    repository = ModelRepository(root)
    assert repository.status("toy") == [{"version": "1", "state": "AVAILABLE", "status": OK}]
    assert recommend(repository) == expected_recommendation(1)["item_ids"]
    with pytest.raises(tf.errors.NotFoundError, match=r"^Could not find any versions of model empty_model$"):
        repository.status("empty_model")
    with pytest.raises(tf.errors.NotFoundError, match=r"^Servable not found for request: Latest\(empty_model\)$"):
        repository.get("empty_model")


def test_only_the_highest_version_is_loaded(tmp_path, toy_versions):  # noqa: F811
    repository = ModelRepository(make_root(tmp_path, toy_versions, versions=(1, 2)))
    assert repository.status("toy") == [{"version": "2", "state": "AVAILABLE", "status": OK}]
    with pytest.raises(tf.errors.NotFoundError, match=r"^Could not find version 1 of model toy$"):
        repository.status("toy", 1)  # never aspired, so TF Serving's monitor has no state for it
    with pytest.raises(tf.errors.NotFoundError, match=r"^Servable not found for request: Specific\(toy, 1\)$"):
        repository.get("toy", 1)
    assert recommend(repository, 2) == expected_recommendation(2)["item_ids"]


def test_a_version_that_fails_to_load_leaves_the_previous_one_serving(tmp_path, toy_versions):  # noqa: F811
    root = make_root(tmp_path, toy_versions)
    repository = ModelRepository(root)
    broken = root / "toy" / ".2.tmp-broken"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    os.rename(broken, root / "toy" / "2")
    repository.poll()
    statuses = repository.status("toy")
    assert [(s["version"], s["state"]) for s in statuses] == [("2", "END"), ("1", "AVAILABLE")]
    assert statuses[0]["status"]["error_code"] == "UNKNOWN"
    assert statuses[0]["status"]["error_message"].startswith("OSError: Cannot parse file")
    assert repository.get("toy").version == 1
    repository.poll()  # not retried while it stays on disk
    assert repository.status("toy", 2)[0]["state"] == "END" and repository.get("toy").version == 1
    shutil.rmtree(root / "toy" / "2")
    shutil.copytree(toy_versions[2], root / "toy" / "2")
    repository.poll()  # replaced between two polls: never seen gone, so not tried again
    assert repository.get("toy").version == 1
    shutil.rmtree(root / "toy" / "2")
    repository.poll()
    shutil.copytree(toy_versions[2], root / "toy" / "2")
    repository.poll()  # gone for one poll, then back: tried again, and it loads
    assert repository.get("toy").version == 2
    assert [(s["version"], s["state"]) for s in repository.status("toy")] == [("2", "AVAILABLE"), ("1", "END")]


def test_a_failing_warmup_record_fails_the_load(tmp_path, toy_versions):  # noqa: F811
    # saved_model_warmup_util.cc: the load fails with the warm-up request's error.
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2
    root = make_root(tmp_path, toy_versions)
    (root / "toy" / "1" / "assets.extra").mkdir()
    log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=predict_pb2.PredictRequest()))
    log.predict_log.request.model_spec.signature_name = "recommend_k"
    log.predict_log.request.inputs["user_id"].CopyFrom(tf.make_tensor_proto("u1"))  # rank 0: EnsureShape fails
    with tf.io.TFRecordWriter(str(root / "toy" / "1" / "assets.extra" / "tf_serving_warmup_requests")) as writer:
        writer.write(log.SerializeToString())
    [status] = ModelRepository(root).status("toy")
    assert (status["state"], status["status"]["error_code"]) == ("END", "INVALID_ARGUMENT")
    assert status["status"]["error_message"].startswith(
        "Shape of tensor _arg_recommend_k_user_id_0_1 [] is not compatible with expected shape [?].")


def test_new_version_is_picked_up_while_serving(tmp_path, toy_versions):  # noqa: F811
    root = make_root(tmp_path, toy_versions)
    old, new = expected_recommendation(1), expected_recommendation(2)
    seen, failures, stop = {"old": 0, "new": 0}, [], threading.Event()
    with RestServer(root, port=0, poll_interval=0.2) as server:
        def stream():
            for _ in range(300):  # bounded; stopped once the swap is seen
                if stop.is_set():
                    return
                status, body = call_json(server.port, "POST", "/v1/models/toy:predict", {"instances": ["u1", "u2"]})
                key = "old" if body == {"predictions": [old, old]} else "new" if body == {"predictions": [new, new]} else None
                if status == 200 and key:
                    seen[key] += 1
                else:
                    failures.append((status, body))

        threads = [threading.Thread(target=stream, daemon=True) for _ in range(3)]
        for thread in threads:
            thread.start()
        assert wait_for(lambda: seen["old"] >= 5)
        shutil.copytree(toy_versions[2], root / "toy" / ".2.tmp-test")
        os.rename(root / "toy" / ".2.tmp-test", root / "toy" / "2")
        assert wait_for(lambda: seen["new"] >= 5)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == [] and not any(thread.is_alive() for thread in threads)
        assert call_json(server.port, "GET", "/v1/models/toy") == (200, {"model_version_status": [
            {"version": "2", "state": "AVAILABLE", "status": OK}, {"version": "1", "state": "END", "status": OK}]})
        assert call_json(server.port, "POST", "/v1/models/toy/versions/1:predict", {"instances": ["u1"]}) == (
            404, {"error": "Servable not found for request: Specific(toy, 1)"})
