"""`--strategy multi_worker`: MultiWorkerMirroredStrategy over TF_CONFIG.

Two `tfllmrec train` processes on loopback form a two-worker cluster; the
TF_CONFIG checks run in-process (they raise before TensorFlow starts).
"""

import json
import math
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO, tiny_recipe_overrides, write_tiny_dataset
from tfllmrec.errors import ConfigError
from tfllmrec.recipes import TrainConfig, get_recipe, with_overrides
from tfllmrec.training.distribution import make_strategy, tf_config_worker


def _tf_config(workers, task_type="worker", index=0, **cluster):
    return json.dumps({"cluster": {"worker": workers, **cluster}, "task": {"type": task_type, "index": index}})


def test_tf_config_names_this_workers_place():
    two = ["10.0.0.1:2222", "10.0.0.2:2222"]
    assert tf_config_worker({"TF_CONFIG": _tf_config(two, index=1)}) == ("worker", 1, 1, 2, False)
    assert tf_config_worker({"TF_CONFIG": _tf_config(two, index=0)}).is_chief
    # A "chief" job is worker 0; the workers count after it.
    with_chief = _tf_config(two, index=0, chief=["10.0.0.9:2222"])
    assert tf_config_worker({"TF_CONFIG": with_chief}) == ("worker", 0, 1, 3, False)
    chief = _tf_config(two, task_type="chief", chief=["10.0.0.9:2222"])
    assert tf_config_worker({"TF_CONFIG": chief}).is_chief
    # One worker is a cluster too: it trains alone.
    assert tf_config_worker({"TF_CONFIG": _tf_config(["localhost:2222"])}).num_workers == 1


@pytest.mark.parametrize("raw, words", [
    ("", "needs the TF_CONFIG environment variable"),
    ("{not json", "not valid JSON"),
    ('{"cluster": {"worker": ["a:1"]}}', 'needs a "cluster" and a "task"'),
    (_tf_config(["a:1", "b:1"], index=2), "not in its cluster"),
    (_tf_config(["a:1"], task_type="ps"), "not in its cluster"),
    (_tf_config(["a:1"], ps=["c:1"]), "['ps'] jobs"),
    (_tf_config(["a"]), '"host:port"'),
    (json.dumps({"cluster": {"chief": ["a:1"]}, "task": {"type": "chief", "index": 0}}), 'no "worker" list'),
])
def test_bad_tf_config_says_how_to_set_it(raw, words):
    with pytest.raises(ConfigError, match="TF_CONFIG") as error:
        tf_config_worker({"TF_CONFIG": raw})
    assert words in str(error.value)
    assert '"task": {"type": "worker", "index": 0}' in str(error.value)  # the example


def test_multi_worker_strategy_needs_tf_config(monkeypatch, capsys):
    from tfllmrec.cli import main

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert TrainConfig(strategy="multi_worker").strategy == "multi_worker"
    with pytest.raises(ValueError, match="'multi_worker'"):
        TrainConfig(strategy="parameter_server")
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        make_strategy("multi_worker")
    assert main(["train", "video", "--strategy", "multi_worker", "--output", "unused"]) == 2
    assert "TF_CONFIG environment variable" in capsys.readouterr().err


def test_multi_worker_strategy_after_tensorflow_started_says_so(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", _tf_config([f"127.0.0.1:{_free_ports(1)[0]}"]))
    assert int(tf.constant(1) + 1) == 2  # TensorFlow has started in this process
    with pytest.raises(ConfigError, match="before TensorFlow runs anything"):
        make_strategy("multi_worker")


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_local_workers_train_the_tiny_recipe_in_sync(tmp_path):
    write_tiny_dataset(tmp_path)
    overrides = tiny_recipe_overrides(tmp_path, epochs=3) + [
        "eval.baselines=[]", "data.cold_start_fraction=0", "train.patience=0",
        "model.id_dropout=0",  # as in test_distribute: compared with one device below
    ]
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    env = dict(os.environ, TFLLMREC_CACHE=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "tfllmrec", "train", "video", "--strategy", "multi_worker"]
    for item in overrides:
        command += ["--set", item]
    children, logs = [], []
    try:
        for index in range(2):
            logs.append(open(tmp_path / f"worker{index}.log", "w+"))
            children.append(subprocess.Popen(
                command + ["--output", str(tmp_path / f"run{index}")], cwd=REPO, stdout=logs[-1],
                stderr=subprocess.STDOUT, env=dict(env, TF_CONFIG=_tf_config(workers, index=index)),
            ))
        codes = [child.wait(timeout=300) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        for log in logs:
            log.close()
    tails = "\n".join(f"--- worker {i}:\n" + (tmp_path / f"worker{i}.log").read_text()[-3000:] for i in range(2))
    assert codes == [0, 0], tails

    chief, other = (json.loads((tmp_path / f"run{i}" / "metrics.json").read_text()) for i in range(2))
    losses = chief["training"]["loss_history"]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses), losses
    assert losses[-1] < losses[0], losses
    # Synchronised workers: the same curve, validation, test metrics and weights.
    assert other["training"]["loss_history"] == pytest.approx(losses, rel=1e-6)
    assert other["training"]["valid_history"] == chief["training"]["valid_history"]
    assert other["test"] == pytest.approx(chief["test"], abs=1e-9)
    readers = [tf.train.load_checkpoint(str(tmp_path / f"run{i}" / "checkpoints" / "main" / "best"))
               for i in range(2)]
    names = [name for name, dtype in readers[0].get_variable_to_dtype_map().items() if dtype == tf.float32]
    assert any("embeddings" in name for name in names) and any("optimizer" in name for name in names)
    for name in names:
        np.testing.assert_allclose(readers[1].get_tensor(name), readers[0].get_tensor(name), atol=1e-6)

    # batch_size is global: two workers sharing each batch follow the one-device curve.
    from tfllmrec.recipes.pipeline import train_recipe

    one = train_recipe(with_overrides(get_recipe("video"), overrides), tmp_path / "one", verbose=0)
    np.testing.assert_allclose(losses, one["training"]["loss_history"], rtol=1e-4)
    assert abs(chief["test"]["ndcg@10"] - one["test"]["ndcg@10"]) < 1e-3
