"""Do the committed exports run the same under TensorFlow 2.20 (stock TF Serving 2.20's) as under 2.21?

For every export `saved_models/<name>/<version>/`, this loads it the way TF Serving does, through the
session loader (`tf.compat.v1.saved_model.loader.load(sess, ["serve"], dir)`), replays its warm-up
records (`assets.extra/tf_serving_warmup_requests`, SignatureDef defaults filled in as predict_util.cc
does), and runs every signature by its tensor names on the warm-up requests and on a synthesized
request per signature; once under TensorFlow 2.21 (this interpreter) and once under 2.20 (a separate
virtual environment, created with `pip install "tensorflow==2.20.*"` if missing). It prints one row
per output and exits 1 on any load failure or mismatch (strings must be equal, numbers equal to
within 1e-5 relative).

Usage:
    .venv/bin/python scripts/check_tf_serving_compat.py [--models-root saved_models] [--venv .venv-tf220]

The warm-up protos are read here (tensorflow-serving-api) and handed to the 2.20 side as arrays, so
that environment needs nothing but TensorFlow.
"""

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
WARMUP = Path("assets.extra") / "tf_serving_warmup_requests"
SYNTHETIC_STRINGS = [b"196", b"1", b"a red running shoe"]


def run_exports(plan):
    """Worker: {export: {"load": error or None, "runs": {label: {output: array} or error}}}. TensorFlow only."""
    import tensorflow as tf

    results = {}
    for export, requests in plan.items():
        session = tf.compat.v1.Session(graph=tf.Graph())
        result = results[export] = {"tensorflow": tf.__version__, "load": None, "runs": {}}
        try:
            signatures = tf.compat.v1.saved_model.loader.load(session, ["serve"], export).signature_def
        except Exception as error:  # noqa: BLE001  reported, not raised
            result["load"] = f"{type(error).__name__}: {error}"
            continue
        for label, signature_name, inputs in requests:
            signature = signatures[signature_name]
            feeds = {signature.inputs[name].name: inputs[name] if name in inputs
                     else tf.make_ndarray(signature.defaults[name]) for name in signature.inputs}
            names = sorted(signature.outputs)
            try:
                values = session.run([signature.outputs[name].name for name in names], feed_dict=feeds)
                result["runs"][label] = dict(zip(names, values))
            except Exception as error:  # noqa: BLE001
                result["runs"][label] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
                if label.startswith("warmup"):  # TF Serving fails the load on a failing warm-up request
                    result["load"] = f"warm-up {label} failed: {result['runs'][label]}"
        session.close()
    return results


def synthetic_inputs(signature, known=None):
    """A request for any signature: each input of the right dtype and rank, unknown sizes 3.

    `known`: {input name: strings} the model accepts there (`rank`'s item ids
    must be in the catalogue, or it answers InvalidArgument by design).
    """
    import tensorflow as tf

    inputs = {}
    for name, info in signature.inputs.items():
        if name in signature.defaults:
            inputs[name] = tf.make_ndarray(signature.defaults[name])
            continue
        shape = [3 if dim.size < 0 else dim.size for dim in info.tensor_shape.dim]
        dtype = tf.dtypes.as_dtype(info.dtype)
        if dtype == tf.string:
            count = int(np.prod(shape))
            pool = list((known or {}).get(name, [])) or SYNTHETIC_STRINGS
            inputs[name] = np.array((pool * count)[:count], dtype=object).reshape(shape)
        else:
            inputs[name] = np.full(shape, 3 if dtype.is_integer else 0.5, dtype=dtype.as_numpy_dtype)
    return inputs


def plan_for(export):
    """[(label, signature, {input: array})]: the warm-up records, then one synthetic request per signature."""
    import tfllmrec  # noqa: F401  (before TensorFlow: sets TF_USE_LEGACY_KERAS)
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow_serving.apis import prediction_log_pb2

    requests = []
    if (export / WARMUP).exists():
        for index, record in enumerate(tf.data.TFRecordDataset(str(export / WARMUP)).as_numpy_iterator()):
            log = prediction_log_pb2.PredictionLog.FromString(record)
            request = log.predict_log.request
            inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
            requests.append((f"warmup#{index}", request.model_spec.signature_name or "serving_default", inputs))
    saved_model = saved_model_pb2.SavedModel.FromString((export / "saved_model.pb").read_bytes())
    [meta_graph] = [graph for graph in saved_model.meta_graphs if "serve" in graph.meta_info_def.tags]
    # String values the warm-up requests send, by input: ids the model knows.
    known = {}
    for _, _, inputs in requests:
        for key, value in inputs.items():
            if value.dtype == object:
                known.setdefault(key, list(dict.fromkeys(value.reshape(-1).tolist())))
    for name, signature in sorted(meta_graph.signature_def.items()):
        if signature.inputs:  # not __saved_model_init_op
            requests.append(("synthetic", name, synthetic_inputs(signature, {"item_ids": known.get("item_ids", [])})))
    return requests


def ensure_venv(venv):
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"Creating {venv} with tensorflow==2.20.* ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "tensorflow==2.20.*"], check=True)
    return python


def compare(new, old):
    """(verdict, detail) for one output."""
    if isinstance(new, str) or isinstance(old, str):
        return ("same error" if new == old else "MISMATCH"), f"{new!r} / {old!r}"[:80]
    if new.shape != old.shape or new.dtype != old.dtype:
        return "MISMATCH", f"{new.dtype}{list(new.shape)} / {old.dtype}{list(old.shape)}"
    if new.dtype == object:
        return ("same" if (new == old).all() else "MISMATCH"), "strings"
    difference = float(np.max(np.abs(new.astype(np.float64) - old))) if new.size else 0.0
    close = np.allclose(new, old, rtol=1e-5, atol=1e-6, equal_nan=True)
    return ("same" if difference == 0 else "close" if close else "MISMATCH"), f"max |diff| {difference:.3g}"


def report(plan, results):
    """Prints the table; returns the number of failures."""
    failures = 0
    print(f"{'export':28} {'request':12} {'signature':20} {'output':10} {'shape':10} {'verdict':8} detail")
    for export, requests in plan.items():
        new, old = results["2.21"][export], results["2.20"][export]
        short = str(Path(export).relative_to(REPO)) if Path(export).is_relative_to(REPO) else export
        for side in (new, old):
            if side["load"]:
                failures += 1
                print(f"{short:28} LOAD FAILED under TensorFlow {side['tensorflow']}: {side['load']}")
        if new["load"] or old["load"]:
            continue
        for label, signature, _ in requests:
            a, b = new["runs"][label], old["runs"][label]
            outputs = sorted(a) if isinstance(a, dict) and isinstance(b, dict) else ["-"]
            for output in outputs:
                x, y = (a, b) if output == "-" else (a[output], b[output])
                verdict, detail = compare(x, y)
                failures += verdict == "MISMATCH"
                shape = "-" if isinstance(x, str) else str(list(x.shape))
                print(f"{short:28} {label:12} {signature:20} {output:10} {shape:10} {verdict:8} {detail}")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-root", default=str(REPO / "saved_models"))
    parser.add_argument("--venv", default=str(REPO / ".venv-tf220"))
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:  # inside the TensorFlow 2.20 environment
        with open(args.worker[0], "rb") as f:
            plan = pickle.load(f)
        with open(args.worker[1], "wb") as f:
            pickle.dump(run_exports(plan), f)
        return 0
    exports = sorted(path for path in Path(args.models_root).glob("*/*") if (path / "saved_model.pb").exists()
                     and path.name.isdigit() and not path.parent.name.startswith("."))
    if not exports:
        print(f"No exports under {args.models_root}.")
        return 1
    plan = {str(export): plan_for(export) for export in exports}
    python = ensure_venv(Path(args.venv))
    with tempfile.TemporaryDirectory() as tmp:
        plan_path, out_path = Path(tmp) / "plan.pkl", Path(tmp) / "results.pkl"
        plan_path.write_bytes(pickle.dumps(plan))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
        subprocess.run([str(python), __file__, "--worker", str(plan_path), str(out_path)], check=True, env=env)
        results = {"2.20": pickle.loads(out_path.read_bytes()), "2.21": run_exports(plan)}
    versions = {side: next(iter(results[side].values()))["tensorflow"] for side in results}
    print(f"TensorFlow {versions['2.21']} (this environment) against {versions['2.20']} ({args.venv})")
    failures = report(plan, results)
    print(json.dumps({"exports": len(exports), "failures": failures}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
