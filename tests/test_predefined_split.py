"""A dataset's shipped split and sampled negatives drive the runner (ecommerce's protocol)."""

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_recipe_overrides, write_tiny_dataset
from tfllmrec.data import Dataset, leave_one_out
from tfllmrec.errors import ConfigError
from tfllmrec.recipes import get_recipe, with_overrides
from tfllmrec.recipes.pipeline import train_recipe
from tfllmrec.tasks import retrieval as retrieval_task
from tfllmrec.data import load_dataset


def _with_shipped_protocol(dataset, num_negatives=5):
    split = leave_one_out(dataset.interactions)
    items = np.asarray(dataset.items.ids, dtype=str)
    rng = np.random.default_rng(0)
    frame = split.test.frame
    negatives = [[str(i) for i in rng.choice(items[items != pos], num_negatives, replace=False)]
                 for pos in frame["item_id"]]
    shipped = pd.DataFrame({"user_id": frame["user_id"].to_numpy(), "item_id": frame["item_id"].to_numpy(),
                            "negatives": negatives})
    return Dataset("shipped", dataset.interactions, dataset.items, split=split,
                   negatives={"test": shipped})


def test_predefined_split_reports_sampled_metrics_for_ours_and_baselines(tmp_path, monkeypatch):
    folder = write_tiny_dataset(tmp_path)
    config = with_overrides(get_recipe("ecommerce"), tiny_recipe_overrides(folder) + [
        "data.cold_start_fraction=0", "data.split=predefined"])
    dataset = _with_shipped_protocol(load_dataset(config.data))
    monkeypatch.setattr(retrieval_task, "load_dataset", lambda data: dataset)
    metrics = train_recipe(config, tmp_path / "run", verbose=0)
    users = dataset.interactions.frame["user_id"].nunique()
    for part in (metrics, metrics["baselines"]["id_two_tower"], metrics["baselines"]["popularity"]):
        sampled = part["test_sampled"]
        assert sorted(sampled) == sorted(f"{m}@{k}" for m in ("hit", "ndcg") for k in (5, 10, 20))
        # 1 positive + 5 negatives: every test user's positive is in the top 10.
        assert sampled["hit@10"] == sampled["hit@20"] == 1.0
        assert 0.0 <= sampled["ndcg@5"] <= sampled["ndcg@10"] <= 1.0
        # Hit@5 counts users whose positive beats at least one of 5 negatives, in steps of 1/users.
        assert np.isclose(sampled["hit@5"] * users, round(sampled["hit@5"] * users))


def test_predefined_split_without_a_shipped_split_says_how_to_fix(tmp_path):
    folder = write_tiny_dataset(tmp_path)
    config = with_overrides(get_recipe("video"), tiny_recipe_overrides(folder) + ["data.split=predefined"])
    with pytest.raises(ConfigError, match="ships no split of its own.*leave_one_out"):
        train_recipe(config, tmp_path / "run", verbose=0)
