"""Training survives SIGKILL, resumes where it stopped, and reproduces exactly:
retrieval (video on a tiny table) and impressions (news on a tiny NeMig folder)
go through the same loop, so each check runs on both."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from conftest import tiny_recipe_overrides, write_tiny_dataset
from test_impression_run import overrides as tiny_news_overrides
from test_impression_run import write_tiny_news
from tfllmrec.errors import ConfigError
from tfllmrec.recipes import get_recipe, with_overrides
from tfllmrec.recipes.pipeline import train_recipe

EPOCHS = 12


@pytest.fixture(scope="module")
def overrides(tmp_path_factory):
    folder = write_tiny_dataset(tmp_path_factory.mktemp("resume_data"))
    return tiny_recipe_overrides(folder, epochs=EPOCHS) + [
        "eval.baselines=[]", "data.cold_start_fraction=0", "train.patience=0",
    ]


@pytest.fixture(scope="module", params=["video", "news"])
def recipe_case(request, overrides, tmp_path_factory):
    """(recipe, overrides, batch size with at least 9 steps an epoch) of each task."""
    if request.param == "video":
        return "video", overrides, 32
    folder = write_tiny_news(tmp_path_factory.mktemp("resume_news") / "en")
    return "news", tiny_news_overrides(folder, epochs=EPOCHS) + ["eval.baselines=[]", "train.patience=0"], 12


def _cli(overrides, output, quiet=False, recipe="video"):
    args = [sys.executable, "-m", "tfllmrec", "train", recipe, "--output", str(output)]
    for item in overrides:
        args += ["--set", item]
    return args + (["--quiet"] if quiet else [])


def _state(output):
    path = output / "checkpoints" / "main" / "state.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def test_same_seed_same_metrics(overrides, tmp_path):
    config = with_overrides(get_recipe("video"), overrides + ["train.epochs=3"])
    first = train_recipe(config, tmp_path / "a", verbose=0)
    second = train_recipe(config, tmp_path / "b", verbose=0)
    for key, value in first["test"].items():
        assert abs(value - second["test"][key]) <= 1e-6, key
    assert first["data_checksums"] == second["data_checksums"]
    assert set(first["versions"]) >= {"tfllmrec", "tensorflow", "keras_hub"}


def test_a_baseline_does_not_depend_on_the_models_trained_before_it(overrides, tmp_path):
    """Each phase starts from its own seed: the ID-only baseline of a run is the
    same whatever ours' configuration (here: how many epochs ours ran, which
    used to leave the process' random state elsewhere), and so is what a
    resumed run, which skips finished phases, gives."""
    base = overrides + ["eval.baselines=[id_two_tower]", "baseline_train.epochs=2"]
    short = train_recipe(with_overrides(get_recipe("video"), base + ["train.epochs=1"]), tmp_path / "a", verbose=0)
    long = train_recipe(with_overrides(get_recipe("video"), base + ["train.epochs=3"]), tmp_path / "b", verbose=0)
    assert short["test"] != long["test"]
    for key, value in short["baselines"]["id_two_tower"]["test"].items():
        assert abs(value - long["baselines"]["id_two_tower"]["test"][key]) <= 1e-6, key

    # A run stopped after ours finished: resuming trains only the baseline, in a
    # fresh process state, and must give what the uninterrupted run gave.
    folder = tmp_path / "b"
    (folder / "metrics.json").unlink()
    progress = json.loads((folder / "progress.json").read_text())
    del progress["id_two_tower"]
    (folder / "progress.json").write_text(json.dumps(progress))
    shutil.rmtree(folder / "checkpoints" / "id_two_tower")
    resumed = train_recipe(with_overrides(get_recipe("video"), base + ["train.epochs=3"]), folder, verbose=0)
    assert resumed["test"] == long["test"]
    for key, value in long["baselines"]["id_two_tower"]["test"].items():
        assert abs(value - resumed["baselines"]["id_two_tower"]["test"][key]) <= 1e-6, key


def test_sigkill_then_resume_finishes_without_redoing_epochs(recipe_case, tmp_path):
    recipe, overrides, _ = recipe_case
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    killed_dir = tmp_path / "killed"
    child = subprocess.Popen(_cli(overrides, killed_dir, quiet=True, recipe=recipe), env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        state = None
        while time.time() < deadline and child.poll() is None:
            state = _state(killed_dir)
            if state and state["epochs_run"] >= 2:
                break
            time.sleep(0.05)
        assert child.poll() is None, "training finished before it could be killed"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    done_before = _state(killed_dir)["epochs_run"]
    assert 2 <= done_before < EPOCHS
    assert not (killed_dir / "metrics.json").exists()

    resumed = subprocess.run(_cli(overrides, killed_dir, recipe=recipe), env=env, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    trained = [int(n) for n in re.findall(rf"^epoch (\d+)/{EPOCHS}: loss .*validation", resumed.stdout, re.M)]
    assert trained == list(range(done_before + 1, EPOCHS + 1)), trained
    state = _state(killed_dir)
    assert state["epochs_run"] == EPOCHS and len(state["loss_history"]) == EPOCHS

    config = with_overrides(get_recipe(recipe), overrides)
    uninterrupted = train_recipe(config, tmp_path / "straight", verbose=0)
    resumed_metrics = json.loads((killed_dir / "metrics.json").read_text())
    for key, value in uninterrupted["test"].items():
        assert abs(value - resumed_metrics["test"][key]) <= 1e-4, key


def test_finished_or_foreign_folders_are_not_resumed(overrides, tmp_path):
    config = with_overrides(get_recipe("video"), overrides + ["train.epochs=1"])
    train_recipe(config, tmp_path / "done", verbose=0)
    before = (tmp_path / "done" / "metrics.json").read_text()
    with pytest.raises(ConfigError, match="finished run.*--overwrite"):
        train_recipe(config, tmp_path / "done", verbose=0)
    assert (tmp_path / "done" / "metrics.json").read_text() == before

    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.yaml").write_text("name: video\ntrain: {epochs: 99}\n")
    with pytest.raises(ConfigError, match="different config"):
        train_recipe(config, unfinished, verbose=0)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="holds no tfllmrec run"):
        train_recipe(config, tmp_path / "other", verbose=0)
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_an_unfinished_run_written_before_a_new_config_field_still_resumes(tmp_path):
    from tfllmrec.recipes.config_tree import to_yaml
    from tfllmrec.recipes.run_folder import prepare_output

    config = get_recipe("video")
    older = "\n".join(line for line in to_yaml(config).splitlines() if "period_days" not in line)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text(older + "\n")
    assert prepare_output(tmp_path / "run", config, overwrite=False) == tmp_path / "run"
    assert (tmp_path / "run" / "config.yaml").read_text() == older + "\n"  # left as it was


def test_mid_epoch_checkpoint_resumes_exactly(recipe_case, tmp_path, monkeypatch):
    recipe, overrides, batch_size = recipe_case
    from tfllmrec.training import trainer

    config = with_overrides(get_recipe(recipe), overrides + [
        "train.epochs=3", f"train.batch_size={batch_size}", "train.checkpoint_every_steps=3",
    ])
    straight = train_recipe(config, tmp_path / "straight", verbose=0)
    real_write = trainer.write_state

    def crash_mid_epoch(workdir, state):
        real_write(workdir, state)
        if state["epochs_run"] == 1 and state.get("epoch_steps") == 6:
            raise KeyboardInterrupt  # stands in for a kill after a mid-epoch checkpoint

    monkeypatch.setattr(trainer, "write_state", crash_mid_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_recipe(config, tmp_path / "crashed", verbose=0)
    assert _state(tmp_path / "crashed")["epoch_steps"] == 6
    monkeypatch.setattr(trainer, "write_state", real_write)
    resumed = train_recipe(config, tmp_path / "crashed", verbose=0)
    for key, value in straight["test"].items():
        assert abs(value - resumed["test"][key]) <= 1e-6, key


def test_tensorboard_logs_hold_every_epochs_loss_and_validation_metrics(recipe_case, tmp_path):
    recipe, overrides, _ = recipe_case
    config = with_overrides(get_recipe(recipe), overrides + ["train.epochs=3"])
    metrics = train_recipe(config, tmp_path / "run", verbose=0)
    scalars = {}
    for path in (tmp_path / "run" / "checkpoints" / "main" / "logs").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                scalars.setdefault(value.tag, {})[event.step] = float(tf.make_ndarray(value.tensor))
    monitor = config.eval.monitor
    history = metrics["training"]
    assert sorted(scalars["train/loss"]) == [0, 1, 2]
    assert [scalars["train/loss"][e] for e in range(3)] == pytest.approx(history["loss_history"], rel=1e-6)
    assert [scalars[f"validation/{monitor}"][e] for e in range(3)] == pytest.approx(
        [epoch[monitor] for epoch in history["valid_history"]], rel=1e-6)
