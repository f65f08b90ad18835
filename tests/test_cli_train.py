"""`tfllmrec train / evaluate / recommend / list` end to end on a tiny tabular dataset.

One tiny run (tiny-random encoder, 2 epochs) is trained once for the module;
the other tests read it.
"""

import contextlib
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from tfllmrec import cli
from tfllmrec.recipes import get_recipe, to_dict, with_overrides

NUM_USERS, NUM_ITEMS, CLASSES = 40, 60, 5
WORDS = ["running shoe", "chef knife", "jazz record", "garden hose", "mystery novel"]
NEW_SKU, NEW_TITLE = "sku999", "brass telescope with tripod"
LINE = re.compile(r"^\s*(\d+)\.\s+(-?\d+\.\d{4})\s+\[([^\]]+)\] (.*)$")


def _write_dataset(folder):
    """40 customers x 12 purchases of 60 skus: customer u buys mostly skus i with
    i % 5 == u % 5 (10 of its 12), plus 2 others; `ts` increases."""
    rng = np.random.default_rng(0)
    rows, ts = [], 1_600_000_000
    for user in range(NUM_USERS):
        liked = np.arange(user % CLASSES, NUM_ITEMS, CLASSES)
        others = np.setdiff1d(np.arange(NUM_ITEMS), liked)
        chosen = np.concatenate([rng.choice(liked, 10, replace=False),
                                 rng.choice(others, 2, replace=False)])
        for item in rng.permutation(chosen):
            ts += 60
            rows.append({"customer": f"c{user:03d}", "sku": f"sku{item:03d}", "ts": ts})
    interactions = folder / "orders.csv"
    pd.DataFrame(rows).to_csv(interactions, index=False)
    items = folder / "products.csv"
    # One more catalogue item that nobody bought: it has no trained id, so only
    # its text places it.
    pd.DataFrame({
        "sku": [f"sku{i:03d}" for i in range(NUM_ITEMS)] + [NEW_SKU],
        "title": [f"{WORDS[i % CLASSES]} number {i}" for i in range(NUM_ITEMS)] + [NEW_TITLE],
    }).to_csv(items, index=False)
    return interactions, items, pd.DataFrame(rows)


def _run(argv):
    """Runs `tfllmrec ARGV` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exit_:  # argparse errors
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def _overrides(interactions, items):
    return [
        "data.dataset=tabular",
        f"data.interactions={interactions}",
        f"data.items={items}",
        "data.columns={user_id: customer, item_id: sku, timestamp: ts}",
        "data.text_fields=[title]",
        "model.encoder=tiny-random",
        "model.sequence_length=16",
        "train.epochs=2",
        "baseline_train.epochs=2",
        "data.cold_start_fraction=0.1",
        "ranking.enabled=false",  # no ratings in these files
    ]


RECIPE_YAML = """\
name: video
model: {embedding_dim: 16, text_hidden_dim: 32}
baseline_model: {embedding_dim: 16}
train: {batch_size: 64}
baseline_train: {batch_size: 64}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_train")
    interactions, items, frame = _write_dataset(folder)
    recipe = folder / "recipe.yaml"
    recipe.write_text(RECIPE_YAML)
    cache = folder / "cache"
    output = folder / "run"
    overrides = _overrides(interactions, items)
    argv = ["train", str(recipe)]
    for item in overrides:
        argv += ["--set", item]
    argv += ["--output", str(output), "--quiet"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TFLLMREC_CACHE", str(cache))
        code, stdout, stderr = _run(argv)
        yield dict(code=code, stdout=stdout, stderr=stderr, output=output, cache=cache,
                   frame=frame, recipe=recipe, overrides=overrides, argv=argv, items=items)


def test_train_succeeds_and_writes_the_run(run):
    assert run["code"] == 0, run["stderr"][-3000:]
    output = run["output"]
    for name in ("config.yaml", "metrics.json", "vocab.json", "seen.json",
                 "checkpoints/main/best.index"):
        assert (output / name).is_file(), name
    assert f"Run written to {output}" in run["stdout"]
    assert re.search(r"^ours\s+\d\.\d{4}\s+\d\.\d{4}\s+\d\.\d{4}$", run["stdout"], re.M), run["stdout"]
    # The text-embedding cache went to $TFLLMREC_CACHE, not the home folder.
    cached = list((run["cache"] / "text").glob("*.npy"))
    assert len(cached) == 1
    assert np.load(cached[0]).shape[0] == NUM_ITEMS + 1


def test_config_yaml_holds_the_overrides_and_the_recipe_file(run):
    assert run["code"] == 0, run["stderr"][-3000:]
    saved = yaml.safe_load((run["output"] / "config.yaml").read_text())
    assert saved["name"] == "video"
    assert saved["data"]["dataset"] == "tabular"
    assert saved["data"]["interactions"] == run["overrides"][1].split("=", 1)[1]
    assert saved["data"]["columns"] == {"user_id": "customer", "item_id": "sku", "timestamp": "ts"}
    assert saved["data"]["text_fields"] == ["title"]
    assert saved["data"]["cold_start_fraction"] == 0.1
    assert saved["model"]["encoder"] == "tiny-random"
    assert saved["model"]["sequence_length"] == 16
    assert saved["model"]["embedding_dim"] == 16 and saved["model"]["text_hidden_dim"] == 32
    assert saved["train"]["epochs"] == 2 and saved["train"]["batch_size"] == 64
    assert saved["baseline_train"]["epochs"] == 2
    # ... and the rest is video's.
    video = get_recipe("video")
    assert saved["model"]["temperature"] == video.model.temperature
    assert saved["train"]["learning_rate"] == video.train.learning_rate
    expected = with_overrides(get_recipe(str(run["recipe"])), run["overrides"])
    assert saved == to_dict(expected)


def _check_metrics(block, where):
    for key in ("recall@10", "ndcg@10"):
        assert key in block, (where, key)
        assert isinstance(block[key], float), (where, key, block[key])
        assert 0.0 <= block[key] <= 1.0, (where, key, block[key])


def test_metrics_json(run):
    assert run["code"] == 0, run["stderr"][-3000:]
    metrics = json.loads((run["output"] / "metrics.json").read_text())
    _check_metrics(metrics["test"], "test")
    _check_metrics(metrics["cold_start"], "cold_start")
    baselines = metrics["baselines"]
    assert set(baselines) == {"popularity", "id_two_tower"}
    for name in ("popularity", "id_two_tower"):
        _check_metrics(baselines[name]["test"], name)
        _check_metrics(baselines[name]["cold_start"], f"{name} cold_start")
    # 10% of 60 items are held out for the cold-start test.
    assert metrics["cold_start"]["cold_items"] == 6
    assert metrics["recipe"] == "video"
    assert metrics["training"]["epochs_run"] == 2
    assert metrics["baselines"]["id_two_tower"]["training"]["epochs_run"] == 2
    assert 1 <= metrics["training"]["best_epoch"] <= 2
    # Metrics are consistent: NDCG@10 > 0 exactly when Recall@10 > 0.
    for block in (metrics["test"], metrics["cold_start"], baselines["popularity"]["test"]):
        assert (block["recall@10"] > 0) == (block["ndcg@10"] > 0)


def test_evaluate_reproduces_the_test_metrics(run):
    assert run["code"] == 0, run["stderr"][-3000:]
    metrics = json.loads((run["output"] / "metrics.json").read_text())
    code, stdout, stderr = _run(["evaluate", str(run["output"])])
    assert code == 0, stderr[-3000:]
    evaluated = json.loads(stdout)
    assert abs(evaluated["recall@10"] - metrics["test"]["recall@10"]) <= 1e-6
    assert abs(evaluated["ndcg@10"] - metrics["test"]["ndcg@10"]) <= 1e-6
    assert set(evaluated) == set(metrics["test"])


def _parse(stdout, k):
    lines = stdout.strip().splitlines()
    assert lines[0].startswith(f"Top {k} for"), stdout
    parsed = [LINE.match(line) for line in lines[1:]]
    assert len(parsed) == k and all(parsed), stdout
    ranks = [int(m.group(1)) for m in parsed]
    scores = [float(m.group(2)) for m in parsed]
    assert ranks == list(range(1, k + 1))
    assert scores == sorted(scores, reverse=True), scores
    return [(m.group(3), m.group(4)) for m in parsed]


def test_recommend_for_a_user_skips_the_items_they_have(run):
    assert run["code"] == 0, run["stderr"][-3000:]
    frame = run["frame"]
    titles = pd.read_csv(run["items"]).set_index("sku")["title"]
    for user in ("c000", "c017"):
        code, stdout, stderr = _run(["recommend", str(run["output"]), "--user", user, "-k", "5"])
        assert code == 0, stderr[-3000:]
        recommended = _parse(stdout, 5)
        ids = [item for item, _ in recommended]
        assert len(set(ids)) == 5
        bought = set(frame.loc[frame["customer"] == user, "sku"])
        assert len(bought) == 12
        assert not set(ids) & bought, (user, ids)
        for item, text in recommended:
            assert text == titles[item]


def test_recommend_for_text(run):
    assert run["code"] == 0, run["stderr"][-3000:]
    code, stdout, stderr = _run(["recommend", str(run["output"]), "--text", "a jazz record", "-k", "3"])
    assert code == 0, stderr[-3000:]
    recommended = _parse(stdout, 3)
    assert all(re.fullmatch(r"sku\d{3}", item) for item, _ in recommended)
    assert "'a jazz record'" in stdout.splitlines()[0]


def test_text_query_finds_the_unbought_item_by_its_own_title(run):
    """The never-bought item's vector is its text path alone, which is exactly what
    a query of its own title computes: cosine 1, ranked first."""
    assert run["code"] == 0, run["stderr"][-3000:]
    code, stdout, stderr = _run(["recommend", str(run["output"]), "--text", NEW_TITLE, "-k", "3"])
    assert code == 0, stderr[-3000:]
    recommended = _parse(stdout, 3)
    assert recommended[0] == (NEW_SKU, NEW_TITLE), stdout
    assert LINE.match(stdout.splitlines()[1]).group(2) == "1.0000", stdout


def test_recommend_for_an_unknown_user_is_a_clean_error(run):
    assert run["code"] == 0, run["stderr"][-3000:]
    code, stdout, stderr = _run(["recommend", str(run["output"]), "--user", "nobody", "-k", "5"])
    assert code == 2
    assert "Unknown user 'nobody'" in stderr and "c000" in stderr
    assert "Traceback" not in stderr and stdout == ""


def test_recommend_needs_exactly_one_query(run):
    assert run["code"] == 0, run["stderr"][-3000:]
    code, _, stderr = _run(["recommend", str(run["output"])])
    assert code == 2 and "exactly one of --user" in stderr
    code, _, stderr = _run(["recommend", str(run["output"]), "--user", "c000", "--text", "x"])
    assert code == 2 and "exactly one of --user" in stderr


def test_train_refuses_to_overwrite_a_finished_run(run):
    assert run["code"] == 0, run["stderr"][-3000:]
    metrics = run["output"] / "metrics.json"
    before, stat = metrics.read_bytes(), metrics.stat()
    listing = sorted(p.name for p in run["output"].iterdir())
    code, stdout, stderr = _run(run["argv"])
    assert code == 2
    assert "--overwrite" in stderr and "finished" in stderr
    assert "Traceback" not in stderr
    assert metrics.read_bytes() == before
    assert metrics.stat().st_mtime_ns == stat.st_mtime_ns
    assert sorted(p.name for p in run["output"].iterdir()) == listing


def test_evaluate_an_unfinished_folder_is_a_clean_error(tmp_path):
    (tmp_path / "config.yaml").write_text("name: video\n")
    code, _, stderr = _run(["evaluate", str(tmp_path)])
    assert code == 2 and "metrics.json is missing" in stderr


def test_list_names_video():
    code, stdout, _ = _run(["list"])
    assert code == 0
    lines = {line.split()[0]: line for line in stdout.strip().splitlines()}
    assert "video" in lines
    assert get_recipe("video").description in lines["video"]


def test_print_config_prints_the_resolved_yaml(tmp_path):
    code, stdout, _ = _run(["train", "video", "--set", "train.epochs=3", "--print-config",
                            "--output", str(tmp_path / "never")])
    assert code == 0
    printed = yaml.safe_load(stdout)
    assert printed["name"] == "video"
    assert re.search(r"^name: video$", stdout, re.M)
    assert printed == to_dict(with_overrides(get_recipe("video"), ["train.epochs=3"]))
    assert not (tmp_path / "never").exists()


def test_train_with_a_bad_override_is_a_clean_error(tmp_path):
    code, stdout, stderr = _run(["train", "video", "--set", "model.temprature=1",
                                 "--output", str(tmp_path / "never")])
    assert code == 2
    assert "model.temprature" in stderr and "temperature" in stderr
    assert not (tmp_path / "never").exists()


def test_overwrite_and_a_run_without_k_10(tmp_path, monkeypatch):
    """`--overwrite` replaces the folder; a run whose `eval.ks` leaves out 10
    finishes and prints its summary instead of crashing after training."""
    monkeypatch.setenv("TFLLMREC_CACHE", str(tmp_path / "cache"))
    interactions, items, _ = _write_dataset(tmp_path)
    output = tmp_path / "run"
    output.mkdir()
    (output / "junk.txt").write_text("left over")
    argv = ["train", "video", "--output", str(output), "--overwrite", "--quiet"]
    for item in _overrides(interactions, items) + [
        "model.use_text=false", "data.cold_start_fraction=0", "eval.baselines=[popularity]",
        "eval.ks=[5]", "eval.monitor=ndcg@5", "model.embedding_dim=8",
    ]:
        argv += ["--set", item]
    crash = None
    try:
        code, stdout, stderr = _run(argv)
    except Exception as error:  # noqa: BLE001  (reported below, after the file checks)
        crash = error
    assert not (output / "junk.txt").exists()
    metrics = json.loads((output / "metrics.json").read_text())
    assert set(metrics["test"]) == {f"{m}@5" for m in ("recall", "ndcg", "hit", "mrr", "precision")}
    assert "cold_start" not in metrics and set(metrics["baselines"]) == {"popularity"}
    assert crash is None, f"train crashed after writing the run: {crash!r}"
    assert code == 0, stderr[-3000:]
    assert re.search(r"^ours\s", stdout, re.M) and f"Run written to {output}" in stdout
