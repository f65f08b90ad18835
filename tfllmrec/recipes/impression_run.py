"""Runs a news recipe (`data.split: impressions`): ours and baselines, MIND's metrics.

The counterpart of `run.train_recipe` for impression data (MIND, NeMig):
the impressions are split at random (`impression_split`), every model is
trained on the clicks of the training impressions against the impression's
non-clicked candidates, the best epoch is picked on validation AUC, and
each model scores the candidates of every test impression (per-impression
AUC, MRR and nDCG@K, as the MIND leaderboard computes them).

Models, all in one run: ours (the recipe's `TwoTowerRetrieval`: the user is
the pooled text of their click history, plus ids as configured), and the
baselines popularity (training clicks), ID-only (`baseline_model`) and an
NRMS-style user encoder over the same frozen text vectors (`NRMS_SETTINGS`).
`model.loss` and `model.logq_correction` play no part here: every model
trains on impression negatives.
"""

import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfllmrec.data import impression_split
from tfllmrec.recipes.datasets import load_dataset
from tfllmrec.recipes.impression_data import IndexedImpressions
from tfllmrec.recipes.impression_training import NRMSScorer, TwoTowerScorer, fit_on_impressions
from tfllmrec.recipes.run_folder import finish_run, phases, prepare_output, write_artifacts
from tfllmrec.recipes.text_table import item_text_table
from tfllmrec.training.distribution import training_scope

MAIN_CHECKPOINT = "checkpoints/main/best"
# Negatives per click in training (NRMS's npratio; NeMig shows 5 at most).
NEGATIVES = 4
# The NRMS-style baseline, tuned as ours was (zoo/news/README.md);
# its schedule is `baseline_train` with this learning rate.
NRMS_SETTINGS = {"news_dim": 64, "num_heads": 8, "attention_hidden_dim": 128, "dropout": 0.2,
                 "learning_rate": 1e-3}


def prepare(config):
    """(dataset, IndexedImpressions, text table or None) of a news recipe."""
    dataset = load_dataset(config.data)
    # NeMig's authors leave out impressions without a history; MIND's leaderboard keeps them.
    split = impression_split(dataset, config.data.ratios, config.data.split_seed,
                             drop_empty_history=config.data.dataset == "nemig")
    data = IndexedImpressions(dataset, split)
    text_table = None
    if config.model.use_text or config.baseline_model.use_text or "nrms" in config.eval.baselines:
        text_table = item_text_table(dataset.items.texts(), config.model.encoder,
                                     config.model.sequence_length)
    return dataset, data, text_table


def train_impression_recipe(config, output_dir, overwrite=False, verbose=1):
    """Trains a news recipe and writes its run folder; returns its metrics dict.

    Writes what `run.train_recipe` writes (config.yaml, progress.json for
    resuming, checkpoints/, vocab.json, seen.json, metrics.json last), so
    `TrainedRun`, `tfllmrec recommend` and `tfllmrec export` read it alike.
    `seen.json` holds each user's history then every news they clicked.

    Args:
        config: RecipeConfig with `data.split == "impressions"`.
        output_dir: str or Path.
        overwrite: bool. Replace an existing run folder.
        verbose: int. 0 silent; otherwise one line per epoch.
    """
    from tfllmrec.recipes.run import build_model

    out = prepare_output(Path(output_dir), config, overwrite)
    phase = phases(out)
    tf.config.experimental.enable_op_determinism()
    tf.keras.utils.set_random_seed(config.train.seed)
    start = time.time()
    dataset, data, text_table = prepare(config)
    ks = tuple(config.eval.ks)
    timing = {"data_and_text_seconds": round(time.time() - start, 1)}

    def two_tower(model_config, train_config, workdir, artifacts=False):
        def build():
            text_dim = text_table.shape[1] if model_config.use_text else None
            model = build_model(model_config, data.num_users, data.num_items, text_dim)
            model.set_training_data(data.trained_items(), data.histories,
                                    text_table if model_config.use_text else None)
            if model_config.ctr_prior_weight:
                set_ctr_prior(model, data, model_config)
            return TwoTowerScorer(model)

        result = _fit_and_test(build, train_config, config, data, ks, workdir, verbose)
        if artifacts:
            write_artifacts(out, data.user_ids, data.item_ids, dataset.items.texts(), data.seen())
        return result

    def nrms():
        settings = dict(NRMS_SETTINGS)
        learning_rate = settings.pop("learning_rate")

        def build():
            from tfllmrec.models import NRMS

            # Self-attention costs the square of the padded length: no longer than needed.
            longest = max(map(len, data.histories), default=1)
            model = NRMS(data.num_users, data.num_items, text_table.shape[1],
                         max_history=max(1, min(config.model.max_history, longest)), **settings)
            model.set_data(text_table, data.histories)
            return NRMSScorer(model)

        train = _replace(config.baseline_train, learning_rate=learning_rate)
        result = _fit_and_test(build, train, config, data, ks, checkpoints / "nrms", verbose)
        return dict(result, settings=NRMS_SETTINGS)

    checkpoints = out / "checkpoints"
    main = phase("main", lambda: two_tower(config.model, config.train, checkpoints / "main", True))
    metrics = {"recipe": config.name, "split_seed": config.data.split_seed, "seed": config.train.seed,
               "test": main["test"], "valid": main["training"]["valid"], "training": main["training"],
               "baselines": {}}
    baselines = metrics["baselines"]
    if "popularity" in config.eval.baselines:
        baselines["popularity"] = {name: _popularity(data, part, ks, config.train.seed)
                                   for name, part in (("valid", "valid"), ("test", "test"))}
    if "ctr" in config.eval.baselines:
        log_rate, _ = data.log_ctr_prior(config.model.ctr_prior_strength)
        baselines["ctr"] = {name: _rank_by(data, part, ks, log_rate, config.train.seed)
                            for name, part in (("valid", "valid"), ("test", "test"))}
        baselines["ctr"]["strength"] = config.model.ctr_prior_strength
    if "id_two_tower" in config.eval.baselines:
        baselines["id_two_tower"] = phase("id_two_tower", lambda: two_tower(
            config.baseline_model, config.baseline_train, checkpoints / "id_two_tower"))
    if "nrms" in config.eval.baselines:
        baselines["nrms"] = phase("nrms", nrms)
    metrics["split"] = {name: int(data.parts[name].size) for name in ("train", "valid", "test")}
    metrics["split"]["dropped_empty_history"] = int(data.dropped_empty_history)
    return finish_run(out, metrics, timing, start, dataset)


def _fit_and_test(build, train_config, config, data, ks, workdir, verbose):
    with training_scope(train_config):
        scorer = build()

        def evaluate(part):
            return data.evaluate(part, *scorer.vectors(data.num_users), ks, score_offset=scorer.offsets())

        fit = fit_on_impressions(scorer, data, train_config, lambda: evaluate("valid"), config.eval.monitor,
                                 workdir, negatives=NEGATIVES, verbose=verbose)
        return {"test": evaluate("test"), "training": fit}


def set_ctr_prior(model, data, model_config):
    """Puts `model_config.ctr_prior_weight` x the log smoothed click-through rate
    of each item into `model`'s item offsets, in dot-product units (the
    logits divide by the temperature, the vectors' scores do not)."""
    log_rate, log_overall = data.log_ctr_prior(model_config.ctr_prior_strength)
    scale = model_config.ctr_prior_weight * model_config.temperature
    model.set_item_bias(scale * log_rate, scale * log_overall)


def _popularity(data, part, ks, seed):
    # Noise below one click breaks ties (most candidates have few clicks) at random.
    return _rank_by(data, part, ks, data.click_counts("train"), seed, tie_noise=0.5)


def _rank_by(data, part, ks, item_scores, seed, tie_noise=1e-6):
    """MIND's metrics of ranking every impression by a fixed score per item,
    ties broken at random (seeded noise up to `tie_noise`)."""
    noise = np.random.default_rng(seed).uniform(0, tie_noise, data.num_items)
    zeros_u, zeros_i = np.zeros((data.num_users, 1)), np.zeros((data.num_items, 1))
    return data.evaluate(part, zeros_u, zeros_i, ks, score_offset=item_scores + noise)


def _replace(train_config, **changes):
    import dataclasses

    return dataclasses.replace(train_config, **changes)


def evaluate_trained_run(run):
    """Test metrics of a `TrainedRun` of a news recipe, recomputed from the data.

    Scores with the training histories (not `seen.json`), as training did.
    """
    from tfllmrec.errors import ConfigError

    dataset = load_dataset(run.config.data)
    split = impression_split(dataset, run.config.data.ratios, run.config.data.split_seed,
                             drop_empty_history=run.config.data.dataset == "nemig")
    data = IndexedImpressions(dataset, split)
    if not (np.array_equal(data.item_ids, run.item_ids) and np.array_equal(data.user_ids, run.user_ids)):
        raise ConfigError(f"The data behind {run.run_dir} changed since training; retrain the run.")
    model = run.model
    if model.max_history:
        model.user_tower.set_history(data.histories)
    try:
        scorer = TwoTowerScorer(model)
        return data.evaluate("test", *scorer.vectors(data.num_users), tuple(run.config.eval.ks),
                             score_offset=scorer.offsets())
    finally:
        if model.max_history:
            model.user_tower.set_history(run.seen)


def summary_lines(metrics, ks=(5, 10)):
    """A table of AUC, MRR and nDCG of ours and the baselines, for the CLI."""
    ndcg = [f"ndcg@{k}" for k in ks if f"ndcg@{k}" in metrics["test"]]
    lines = [f"{'model':14s} {'AUC':>8s} {'MRR':>8s} " + " ".join(f"{n.upper():>8s}" for n in ndcg)]
    rows = [("ours", metrics["test"])] + [(n, b["test"]) for n, b in metrics["baselines"].items()]
    for name, test in rows:
        values = [test["auc"], test["mrr"]] + [test[n] for n in ndcg]
        lines.append(f"{name:14s} " + " ".join(f"{v:8.4f}" for v in values))
    return lines
