"""Time periods (`model.period_days`): period arithmetic on a split, and a run
that learns what sells when, served the same way after reload and export."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tfllmrec.data import Interactions, Items
from tfllmrec.data.split import Split
from tfllmrec.errors import DataError
from tfllmrec.recipes import get_recipe, with_overrides
from tfllmrec.recipes.export_run import build_module, export_run
from tfllmrec.recipes.pipeline import train_recipe
from tfllmrec.recipes.trained_run import TrainedRun
from tfllmrec.tasks import IndexedSplit

DAY = 86_400
T0 = 1_600_000_000


def _index(train_days, valid_days, test_days, timestamps=True):
    """Users u0, u1; item i0; one interaction per (user, day) given as {user: [days]}
    (a day of None: no timestamp)."""
    def part(days):
        rows = [{"user_id": u, "item_id": "i0",
                 **({"timestamp": None if d is None else T0 + d * DAY} if timestamps else {})}
                for u, ds in days.items() for d in ds]
        return Interactions(pd.DataFrame(rows, columns=["user_id", "item_id"] + (["timestamp"] * timestamps)),
                            allow_empty=True)
    items = Items(pd.DataFrame({"item_id": ["i0"], "text": ["a pen"]}), text_fields=["text"])
    return IndexedSplit(Split(part(train_days), part(valid_days), part(test_days)), items,
                        users=np.array(["u0", "u1"]))


def test_periods_count_back_from_the_last_training_day_and_clip_to_the_training_range():
    index = _index({"u0": [0, 9, 10], "u1": [25]}, {"u0": [26]}, {"u1": [40], "u0": [-5]})
    # Days 0-25 in periods of 10 counted back from day 25: 16-25, 6-15, and a short 0-5.
    assert index.num_periods(10) == 3
    assert sorted(index.periods(10, "train").tolist()) == [0, 1, 1, 2]
    assert index.period_range() == (T0, T0 + 25 * DAY)
    # Days before the first or after the last training day count as its period.
    assert sorted(index.periods(10, "test").tolist()) == [0, 2]
    np.testing.assert_array_equal(index.latest_periods(10, "train"), [1, 2])
    np.testing.assert_array_equal(index.latest_periods(10, "train", "valid", "test"), [2, 2])
    assert index.num_periods(30) == 1


def test_a_user_without_interactions_has_no_period():
    index = _index({"u0": [0, 20]}, {}, {})
    np.testing.assert_array_equal(index.latest_periods(7, "train"), [2, -1])


def test_periods_without_timestamps_are_a_clear_error():
    index = _index({"u0": [0, 20]}, {}, {}, timestamps=False)
    with pytest.raises(DataError, match="need timestamps.*set model.period_days, baseline_model.period_days and "
                                      "sequence.period_days to 0"):
        index.num_periods(7)


def test_periods_with_some_timestamps_missing_are_a_clear_error():
    index = _index({"u0": [0, 20, None]}, {}, {"u1": [None]})
    with pytest.raises(DataError, match="every interaction; 2 have none.*fill the timestamps in"):
        index.periods(7, "test")


# ----------------------------------------------------------------------------- a run

NUM_USERS, NUM_ITEMS, PERIODS = 32, 48, 4
GROUPS = ["desk lamp", "stapler", "notebook", "ink cartridge"]


def _write_dataset(folder):
    """Four shopping seasons 20 days apart, each under a week long; in season
    p the items that sell are i % 4 == p. Customer u shops in seasons 0 to
    u % 4, four items in each. With ten-day periods no period holds two
    seasons, wherever the periods start."""
    rng = np.random.default_rng(0)
    rows = []
    for user in range(NUM_USERS):
        for period in range(user % PERIODS + 1):
            items = rng.choice(np.arange(period, NUM_ITEMS, PERIODS), 4, replace=False)
            for offset, item in enumerate(items):
                rows.append((f"c{user}", f"i{item}", T0 + (20 * period + 2 * offset) * DAY + user))
    frame = pd.DataFrame(rows, columns=["customer", "sku", "ts"]).sort_values("ts")
    frame.to_csv(folder / "orders.csv", index=False)
    pd.DataFrame({"sku": [f"i{i}" for i in range(NUM_ITEMS)],
                  "title": [f"{GROUPS[(i * 7) % 4]} {i}" for i in range(NUM_ITEMS)]}).to_csv(
        folder / "items.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def period_run(tmp_path_factory):
    folder = _write_dataset(tmp_path_factory.mktemp("period_data"))
    config = with_overrides(get_recipe("video"), [
        "data.dataset=tabular", f"data.interactions={folder / 'orders.csv'}",
        f"data.items={folder / 'items.csv'}",
        "data.columns={user_id: customer, item_id: sku, timestamp: ts}", "data.text_fields=[title]",
        "data.split=leave_one_out", "data.cold_start_fraction=0", "eval.baselines=[]", "ranking.enabled=false",
        "model.encoder=tiny-random", "model.sequence_length=8", "model.use_text=false",
        "model.id_dropout=0", "model.period_days=10", "model.embedding_dim=16",
        "train.epochs=12", "train.batch_size=32", "train.learning_rate=0.03", "train.patience=12",
    ])
    run_dir = tmp_path_factory.mktemp("runs") / "periods"
    metrics = train_recipe(config, run_dir, verbose=0)
    return run_dir, metrics


def test_test_requests_are_asked_at_their_own_time(period_run):
    run_dir, metrics = period_run
    seen = json.loads((run_dir / "seen.json").read_text())
    first, last = seen["period_range"]
    assert seen["num_periods"] == (last - first) // (10 * DAY) + 1 >= PERIODS
    # Customer u's held-out last purchase is in period u % 4, among that
    # period's items: found in the top 10 of 44+ unseen items far above chance.
    assert metrics["test"]["hit@10"] > 0.8, metrics["test"]


def test_a_trained_run_serves_the_present_the_latest_period(period_run):
    run_dir, _ = period_run
    run = TrainedRun(run_dir)
    assert run.model.num_periods == run.num_periods and run.model.period_days == 10
    np.testing.assert_array_equal(run.model.user_tower.user_period.numpy(), run.num_periods - 1)
    hits = [int(item[1:]) % PERIODS == PERIODS - 1
            for user in run.user_ids for item, _, _ in run.recommend_for_user(user, k=5)]
    assert np.mean(hits) > 0.9, np.mean(hits)


def test_evaluate_reproduces_the_test_metrics_then_serves_the_present(period_run):
    run_dir, metrics = period_run
    run = TrainedRun(run_dir)
    again = run.evaluate()
    for key, value in metrics["test"].items():
        assert again[key] == pytest.approx(value, abs=1e-9), key
    np.testing.assert_array_equal(run.model.user_tower.user_period.numpy(), run.num_periods - 1)


def test_export_serves_with_the_stored_periods(period_run, tmp_path):
    run_dir, _ = period_run
    run = TrainedRun(run_dir)
    version = export_run(str(run_dir), str(tmp_path / "shop"), retrieval_only=True)
    loaded = tf.saved_model.load(str(version))
    users = [str(u) for u in run.user_ids[:6]]
    out = loaded.signatures["recommend_k"](user_id=tf.constant(users), k=tf.constant(5))
    for row, user in zip(out["item_ids"].numpy(), users):
        assert [x.decode() for x in row] == [item for item, _, _ in run.recommend_for_user(user, k=5)]
    module = build_module(run, retrieval_only=True)
    np.testing.assert_allclose(module.recommend_k(tf.constant(users), tf.constant(5))["scores"].numpy(),
                               out["scores"].numpy(), atol=1e-5)


@pytest.mark.parametrize("with_time", [True, False])
def test_init_keeps_periods_only_for_files_with_timestamps(tmp_path, with_time):
    from tfllmrec.recipes.init_recipe import init_recipe

    orders = pd.DataFrame({"customer": ["a", "a", "b"], "sku": ["x", "y", "x"]})
    if with_time:
        orders["order_time"] = [T0, T0 + DAY, T0 + 2 * DAY]
    orders.to_csv(tmp_path / "orders.csv", index=False)
    pd.DataFrame({"sku": ["x", "y"], "title": ["red pen", "blue pen"]}).to_csv(tmp_path / "items.csv", index=False)
    assert get_recipe("ecommerce").model.period_days > 0
    config, _ = init_recipe(tmp_path / "shop", "ecommerce", tmp_path / "orders.csv", tmp_path / "items.csv")
    expected = get_recipe("ecommerce").model.period_days if with_time else 0
    assert config.model.period_days == expected
    assert config.baseline_model.period_days == (get_recipe("ecommerce").baseline_model.period_days
                                                 if with_time else 0)


def _copy_run(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    return copy


def test_a_run_whose_seen_json_lost_its_periods_is_reported_damaged(period_run, tmp_path):
    from tfllmrec.errors import RunFolderError

    copy = _copy_run(period_run[0], tmp_path)
    seen = json.loads((copy / "seen.json").read_text())
    del seen["num_periods"]
    (copy / "seen.json").write_text(json.dumps(seen))
    with pytest.raises(RunFolderError, match="seen.json.*num_periods"):
        TrainedRun(copy)


def test_evaluate_refuses_data_whose_time_range_changed(period_run, tmp_path):
    from tfllmrec.errors import ConfigError

    copy = _copy_run(period_run[0], tmp_path)
    config = (copy / "config.yaml").read_text()
    orders = re.search(r"interactions: '?([^'\n]+)'?", config).group(1)
    frame = pd.read_csv(orders)
    frame["ts"] += 3 * DAY
    frame.to_csv(tmp_path / "later.csv", index=False)
    (copy / "config.yaml").write_text(config.replace(orders, str(tmp_path / "later.csv")))
    with pytest.raises(ConfigError, match="changed since training.*time periods.*retrain"):
        TrainedRun(copy).evaluate()
