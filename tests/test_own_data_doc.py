"""docs/own-data.md works as written: data, `init`, `train`, `recommend`."""

import json
import re

from conftest import REPO
from tfllmrec.cli import main

DOC = REPO / "docs" / "own-data.md"
FAST = ["--set", "model.encoder=tiny-random", "--set", "model.sequence_length=16",
        "--set", "train.epochs=2", "--set", "baseline_train.epochs=2", "--quiet"]


def test_own_data_walkthrough(tmp_path, monkeypatch, capsys):
    text = DOC.read_text()
    monkeypatch.chdir(tmp_path)
    exec(re.search(r"```python\n(.*?)```", text, re.S).group(1), {})
    assert main(["init", "my_shop", "--from", "ecommerce", "--interactions", "orders.csv",
                 "--items", "products.csv"]) == 0
    printed = capsys.readouterr().out
    for line in ("user_id        <- customer", "item_id        <- sku", "timestamp      <- order_time",
                 "weight         <- quantity", "item text      <- product_title, brand"):
        assert line in printed and line in text, line
    # The doc's own commands, with a fast schedule and the tiny encoder.
    assert main(["train", "my_shop", "--output", "runs/my_shop", *FAST]) == 0
    metrics = json.loads((tmp_path / "runs" / "my_shop" / "metrics.json").read_text())
    assert metrics["recipe"] == "my_shop" and "cold_start" in metrics
    config = (tmp_path / "my_shop" / "config.yaml").read_text()
    assert "split: leave_one_out" in config and "history_pooling: shared" in config
    # Leave-one-out: one test item per customer, ranked against the catalogue.
    assert 0.0 <= metrics["test"]["recall@10"] <= 1.0 and metrics["baselines"]["id_two_tower"]["test"]
    capsys.readouterr()
    assert main(["recommend", "runs/my_shop", "--user", "C7", "-k", "5"]) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if re.match(r"\s+\d+\.", l)]
    assert len(lines) == 5 and all("SKU" in l for l in lines)
    assert main(["init", "my_shop", "--interactions", "orders.csv", "--items", "products.csv"]) == 2
