"""`tfllmrec export`: versioned SavedModels that reload, use only stock ops, and
never appear half-written."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf

from tfllmrec.cli import main
from tfllmrec.errors import ConfigError
from tfllmrec.export import classify_ops, read_warmup_requests, saved_model_ops
from tfllmrec.recipes.export_run import build_module, export_run
from tfllmrec.recipes.trained_run import TrainedRun


@pytest.fixture(scope="module")
def exports(tiny_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("saved_models")
    full = export_run(tiny_run, root / "tiny")
    small = export_run(tiny_run, root / "tiny", retrieval_only=True)
    return root, full, small


def test_versions_layout_and_models_config(exports):
    root, full, small = exports
    assert full.endswith(os.path.join("tiny", "1")) and small.endswith(os.path.join("tiny", "2"))
    for version in (full, small):
        names = set(os.listdir(version))
        assert {"saved_model.pb", "variables", "assets.extra", "metrics.json", "config.yaml"} <= names
    assert [p for p in os.listdir(root / "tiny") if p.startswith(".")] == []
    config = (root / "models.config").read_text()
    assert "name: 'tiny'" in config and "base_path: '/models/tiny'" in config


def test_signatures(exports):
    _, full, small = exports
    assert set(tf.saved_model.load(full).signatures) == {
        "serving_default", "recommend_k", "recommend_by_text", "recommend_by_text_k", "encode_items",
        "encode_text"}
    assert set(tf.saved_model.load(small).signatures) == {"serving_default", "recommend_k"}


def test_retrieval_only_export_holds_no_bert(exports):
    _, full, small = exports

    def size(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)

    assert size(small) < size(full) / 2
    assert not any("WordpieceTokenize" in op or "FastWordpiece" in op for op in saved_model_ops(small))


def test_reload_in_fresh_process_matches_in_memory(exports, tiny_run, tmp_path):
    _, full, _ = exports
    run = TrainedRun(tiny_run)
    module = build_module(run)
    users = [str(u) for u in run.user_ids[:5]] + ["no-such-user"]
    queries = ["jazz record", "a sharp chef knife"]
    items = ["garden hose model 99", ""]
    expected = {
        "serving_default": module.serving_default(tf.constant(users)),
        "recommend_k": module.recommend_k(tf.constant(users), tf.constant(7)),
        "recommend_by_text": module.recommend_by_text(tf.constant(queries)),
        "recommend_by_text_k": module.recommend_by_text_k(tf.constant(queries), tf.constant(4)),
        "encode_items": module.encode_items(tf.constant(items)),
        "encode_text": module.encode_text(tf.constant(items)),
    }
    script = textwrap.dedent(f"""
        import json, numpy as np, tensorflow as tf
        import tensorflow_text  # TF Serving links these ops; plain Python must load them
        m = tf.saved_model.load({full!r})
        s = m.signatures
        out = {{
            "serving_default": s["serving_default"](user_id=tf.constant({users!r})),
            "recommend_k": s["recommend_k"](user_id=tf.constant({users!r}), k=tf.constant(7)),
            "recommend_by_text": s["recommend_by_text"](query=tf.constant({queries!r})),
            "recommend_by_text_k": s["recommend_by_text_k"](query=tf.constant({queries!r}), k=tf.constant(4)),
            "encode_items": s["encode_items"](item_text=tf.constant({items!r})),
            "encode_text": s["encode_text"](text=tf.constant({items!r})),
        }}
        def py(v):
            v = v.numpy()
            return [[x.decode() for x in row] for row in v] if v.dtype == object else v.tolist()
        print(json.dumps({{k: {{n: py(t) for n, t in d.items()}} for k, d in out.items()}}))
    """)
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    for signature, outputs in expected.items():
        for name, tensor in outputs.items():
            want = tensor.numpy()
            if want.dtype == object:
                assert got[signature][name] == [[x.decode() for x in row] for row in want]
            else:
                np.testing.assert_allclose(got[signature][name], want, atol=1e-4)
    assert np.asarray(got["serving_default"]["item_ids"]).shape == (6, 10)  # export.top_k
    assert np.asarray(got["recommend_k"]["item_ids"]).shape == (6, 7)


def test_serving_default_semantics(tiny_run):
    run = TrainedRun(tiny_run)
    module = build_module(run, retrieval_only=True)
    user = str(run.user_ids[0])
    out = module.recommend_k(tf.constant([user]), tf.constant(5))
    ids = [x.decode() for x in out["item_ids"].numpy()[0]]
    scores = out["scores"].numpy()[0]
    assert ids == [item for item, _, _ in run.recommend_for_user(user, k=5)]
    fixed = module.serving_default(tf.constant([user]))["item_ids"].numpy()[0]
    assert [x.decode() for x in fixed] == [item for item, _, _ in run.recommend_for_user(user, k=10)]
    assert np.all(np.diff(scores) <= 0)
    seen = {str(run.item_ids[i]) for i in run.seen[0]}
    assert not seen & set(ids)
    # Unknown users get the most popular items; k is capped at the catalogue.
    unknown = module.recommend_k(tf.constant(["stranger"]), tf.constant(10_000))
    assert unknown["item_ids"].shape == (1, len(run.item_ids))
    counts = np.bincount(np.concatenate(run.seen), minlength=len(run.item_ids))
    top = str(run.item_ids[int(np.argmax(counts))])
    assert unknown["item_ids"].numpy()[0][0].decode() == top


def test_ops_are_core_or_tensorflow_text(exports):
    _, full, small = exports
    for path in (full, small):
        groups = classify_ops(saved_model_ops(path))
        assert groups["other"] == [], f"{path} uses ops stock TF Serving lacks: {groups['other']}"
        assert "MatMul" in groups["core"] or "BatchMatMulV2" in groups["core"]
    assert groups["text"] == []  # retrieval-only: no tokenizer
    assert classify_ops(saved_model_ops(full))["text"], "the full export tokenizes in the graph"


def test_op_check_flags_unknown_ops():
    groups = classify_ops(["MatMul", "ScannSearchBatched"])
    assert groups["core"] == ["MatMul"] and groups["other"] == ["ScannSearchBatched"]


def test_warmup_requests_replay(exports):
    _, full, _ = exports
    requests = read_warmup_requests(full)
    assert {sig for sig, _ in requests} == set(tf.saved_model.load(full).signatures)
    loaded = tf.saved_model.load(full)
    for signature, inputs in requests:
        outputs = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        assert all(np.all(np.isfinite(v.numpy())) for v in outputs.values() if v.dtype != tf.string)


def test_the_full_export_runs_through_tf_servings_session_loader(exports):
    """BERT's Keras 3 variables are restored by the session loader, as stock TF Serving loads
    (before the fix: "Could not find variable transformer_layer_1/...", the functions reading
    variables the loader never restored)."""
    from tfllmrec.serving import LoadedModel

    _, full, _ = exports
    served = LoadedModel.load("tiny", 1, full)  # replays every signature's warm-up record too
    functions = tf.saved_model.load(full).signatures
    for signature, inputs in read_warmup_requests(full):
        _, outputs = served.predict(signature, inputs)
        expected = functions[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        for name, value in expected.items():
            if value.dtype == tf.string:
                assert outputs[name].tolist() == value.numpy().tolist()
            else:
                np.testing.assert_allclose(outputs[name], value.numpy(), rtol=1e-5, atol=1e-5)


def test_existing_version_and_bad_run_are_clear_errors(tiny_run, exports, tmp_path):
    root, _, _ = exports
    with pytest.raises(ConfigError, match="versions are immutable"):
        export_run(tiny_run, root / "tiny", version=1)
    with pytest.raises(ConfigError, match="not a finished run"):
        export_run(tmp_path, root / "other")
    assert main(["export", str(tmp_path), "--output", str(root / "other")]) == 2


def test_sigkill_midway_leaves_no_version(tiny_run, tmp_path):
    target = tmp_path / "saved" / "tiny"
    script = textwrap.dedent(f"""
        import tfllmrec, tensorflow as tf, time
        from tfllmrec.recipes import export_run as er
        real_save = tf.saved_model.save
        def slow_save(*args, **kwargs):
            real_save(*args, **kwargs)
            print("SAVED", flush=True)
            time.sleep(60)  # killed here, after files exist in the temp folder
        er.tf.saved_model.save = slow_save
        er.export_run({str(tiny_run)!r}, {str(target)!r}, retrieval_only=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 240
        line = ""
        while time.time() < deadline and "SAVED" not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert "SAVED" in line, "the export child never reached the save"
        hidden = [p for p in os.listdir(target) if p.startswith(".")]
        assert hidden, "the export should be writing into a hidden temporary folder"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [p for p in os.listdir(target) if p.isdigit()] == []
    # The next export ignores the leftover temp folder and writes version 1.
    assert export_run(tiny_run, target, retrieval_only=True).endswith(os.path.join("tiny", "1"))


def test_local_rest_server_serves_the_export(exports, tiny_run):
    import urllib.request

    from tfllmrec.serving import RestServer

    root, _, _ = exports
    run = TrainedRun(tiny_run)
    user = str(run.user_ids[1])
    expected = [item for item, _, _ in run.recommend_for_user(user, k=4)]
    with RestServer(root, port=0) as server:
        body = json.dumps({"signature_name": "recommend_k", "inputs": {"user_id": [user], "k": 4}}).encode()
        request = urllib.request.Request(f"{server.url}/v1/models/tiny:predict", data=body)
        with urllib.request.urlopen(request, timeout=60) as response:
            outputs = json.loads(response.read())["outputs"]
        rows = json.dumps({"instances": [{"user_id": user}]}).encode()
        request = urllib.request.Request(f"{server.url}/v1/models/tiny:predict", data=rows)
        with urllib.request.urlopen(request, timeout=60) as response:
            predictions = json.loads(response.read())["predictions"]
    assert outputs["item_ids"][0] == expected
    assert predictions[0]["item_ids"][:4] == expected
