"""Runs a recipe end to end: data, split, ours, baselines, cold start, artifacts."""

import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfllmrec.data import cold_start_split, leave_one_out, random_split
from tfllmrec.errors import ConfigError
from tfllmrec.evaluation import Popularity, RankingEvaluator, SampledEvaluator
from tfllmrec.models import TwoTowerRetrieval
from tfllmrec.recipes.run_folder import finish_run, phases, prepare_output, write_artifacts
from tfllmrec.recipes.datasets import load_dataset
from tfllmrec.recipes.text_table import item_text_table
from tfllmrec.training import IndexedSplit, evaluate_on_test, sampled_targets, train_two_tower
from tfllmrec.training.distribution import make_strategy, training_scope

MAIN_CHECKPOINT = "checkpoints/main/best"


def build_model(model_config, num_users, num_items, text_dim=None, num_periods=0):
    """The `TwoTowerRetrieval` a `ModelConfig` describes (`num_periods`: from the data,
    0 when `model_config.period_days` is 0)."""
    return TwoTowerRetrieval(
        num_users=num_users,
        num_items=num_items,
        embedding_dim=model_config.embedding_dim,
        use_user_ids=model_config.use_user_ids,
        use_item_ids=model_config.use_item_ids,
        text_dim=text_dim if model_config.use_text else None,
        text_hidden_dim=model_config.text_hidden_dim,
        id_dropout=model_config.id_dropout,
        history_pooling=model_config.history_pooling,
        max_history=model_config.max_history,
        temperature=model_config.temperature,
        retrieval_loss=model_config.loss,
        logq_correction=model_config.logq_correction,
        text_loss_weight=model_config.text_loss_weight if model_config.use_text else 0.0,
        text_dropout=model_config.text_dropout,
        num_periods=num_periods,
        period_days=model_config.period_days,
        item_bias=model_config.ctr_prior_weight > 0,
        fuse_text=model_config.fuse_text or not model_config.hybrid,
        cold_neighbors=model_config.cold_neighbors if model_config.hybrid else 0,
        cold_neighbor_temperature=model_config.cold_neighbor_temperature,
    )


def make_split(data, dataset):
    """The main split a DataConfig asks for."""
    if data.split == "predefined":
        if dataset.split is None:
            raise ConfigError(
                f"data.split=predefined, but {dataset.name} ships no split of its own. "
                "Fix: use data.split=random or data.split=leave_one_out."
            )
        return dataset.split
    if data.split == "leave_one_out":
        return leave_one_out(dataset.interactions)
    return random_split(dataset.interactions, ratios=data.ratios, seed=data.split_seed)


def train_recipe(config, output_dir, overwrite=False, verbose=1):
    """Trains `config` and writes the run folder; returns its metrics dict.

    The folder gets `config.yaml` (first, so a failed run says what it ran),
    `metrics.json` (last: its presence means the run finished),
    `vocab.json`, `seen.json`, TensorBoard logs and checkpoints. Each model
    checkpoints every epoch and each finished phase (ours, each baseline,
    each cold-start model) is recorded in `progress.json`, so calling this
    again on an unfinished folder with the same config resumes where it
    stopped instead of starting over.

    Args:
        config: RecipeConfig.
        output_dir: str or Path.
        overwrite: bool. Replace an existing run folder (finished or not).
        verbose: int. Keras progress output.
    """
    if "multi_worker" in (config.train.strategy, config.baseline_train.strategy):
        # Before any other TensorFlow op: collective ops are set up at start-up.
        make_strategy("multi_worker")
    if config.data.split == "impressions":
        # News: per-impression candidates and metrics, a runner of its own.
        from tfllmrec.recipes.impression_run import train_impression_recipe

        return train_impression_recipe(config, output_dir, overwrite=overwrite, verbose=verbose)
    out = prepare_output(Path(output_dir), config, overwrite)
    phase = phases(out)
    # Same seed, same machine, same metrics: TensorFlow's deterministic ops.
    tf.config.experimental.enable_op_determinism()
    tf.keras.utils.set_random_seed(config.train.seed)
    start = time.time()
    dataset = load_dataset(config.data)
    split = make_split(config.data, dataset)
    users = np.unique(np.asarray(dataset.interactions.frame["user_id"], dtype=str))
    index = IndexedSplit(split, dataset.items, users=users)
    texts = dataset.items.texts()
    ks = tuple(config.eval.ks)
    text_table = None
    if config.model.use_text:
        text_table = item_text_table(texts, config.model.encoder, config.model.sequence_length)
    timing = {"data_and_text_seconds": round(time.time() - start, 1)}

    # The sampled protocol the data ships (e.g. 99 negatives per test user),
    # so published numbers on it can be compared; only on the main split.
    sampled = None
    if dataset.negatives and "test" in dataset.negatives and config.data.split == "predefined":
        sampled = sampled_targets(index, dataset.negatives["test"])

    def fit_and_test(model_config, train_config, phase_index, workdir, cold=False, artifacts=False):
        model, fit = _fit(model_config, train_config, config, phase_index, text_table, workdir, verbose)
        if artifacts:
            write_artifacts(out, phase_index.user_ids, phase_index.item_ids, texts,
                            phase_index.per_user("train", "valid", "test"),
                            (model.num_periods, phase_index.period_range()) if model.num_periods else None)
        result = {"test": evaluate_on_test(model, phase_index, ks, cold=cold), "training": fit}
        if sampled is not None and phase_index is index:
            result["test_sampled"] = _sampled(lambda users: model.score(tf.constant(users, tf.int32)).numpy(),
                                              sampled, ks)
        return result

    checkpoints = out / "checkpoints"
    main = phase("main", lambda: fit_and_test(config.model, config.train, index, checkpoints / "main",
                                              artifacts=True))
    metrics = {"recipe": config.name, "split_seed": config.data.split_seed, "seed": config.train.seed,
               "test": main["test"], "training": main["training"], "baselines": {}}
    if "test_sampled" in main:
        metrics["test_sampled"] = main["test_sampled"]
    baselines = metrics["baselines"]
    if "popularity" in config.eval.baselines:
        baselines["popularity"] = {"test": _popularity(index, ks, config.train.seed)}
        if sampled is not None:
            baselines["popularity"]["test_sampled"] = _sampled(
                _popularity_scorer(index, config.train.seed), sampled, ks)
    if "id_two_tower" in config.eval.baselines:
        baselines["id_two_tower"] = phase("id_two_tower", lambda: fit_and_test(
            config.baseline_model, config.baseline_train, index, checkpoints / "id_two_tower"))

    if config.data.cold_start_fraction > 0:
        data = config.data
        cold_split = cold_start_split(dataset.interactions, item_fraction=data.cold_start_fraction,
                                      seed=data.split_seed, ratios=data.ratios)
        cold = IndexedSplit(cold_split, dataset.items, users=users)
        cold_dir = checkpoints / "cold_start"
        ours = phase("cold_start", lambda: fit_and_test(config.model, config.train, cold,
                                                        cold_dir / "ours", cold=True))
        metrics["cold_start"] = dict(ours["test"], cold_items=int(len(cold.cold_items)))
        if "popularity" in baselines:
            baselines["popularity"]["cold_start"] = _popularity(
                cold, ks, config.train.seed, candidates=cold.cold_items
            )
        if "id_two_tower" in baselines:
            baseline = phase("cold_start_id_two_tower", lambda: fit_and_test(
                config.baseline_model, config.baseline_train, cold, cold_dir / "id_two_tower", cold=True))
            baselines["id_two_tower"]["cold_start"] = baseline["test"]
    return finish_run(out, metrics, timing, start, dataset)


def _fit(model_config, train_config, config, index, text_table, workdir, verbose):
    text_dim = None if text_table is None else text_table.shape[1]
    days = model_config.period_days
    with training_scope(train_config):
        model = build_model(model_config, index.num_users, index.num_items, text_dim,
                            index.num_periods(days) if days else 0)
        model.set_training_data(index.item_counts(), index.per_user("train"), text_table,
                                index.latest_periods(days, "valid") if days else None)
        fit = train_two_tower(model, index, train_config, config.eval.monitor,
                              tuple(config.eval.ks), str(workdir), verbose=verbose)
    return model, fit


def _popularity_scorer(index, seed):
    popularity = Popularity().fit(index.train_items, index.num_items)
    # Seeded noise below one count breaks ties at random: the evaluator would
    # break them by item index, and MovieLens numbers its popular films first.
    noise = np.random.default_rng(seed).uniform(0, 0.5, index.num_items).astype(np.float32)

    def score(users):
        return popularity.score(users) + noise

    return score


def _popularity(index, ks, seed, candidates=None):
    users, positives, exclude = index.targets("test", ["train", "valid"])
    return RankingEvaluator(ks=ks).evaluate(_popularity_scorer(index, seed), users, positives, exclude,
                                            candidates)


def _sampled(score_users, targets, ks):
    """HR@K/NDCG@K of full-catalogue scores restricted to shipped candidates."""
    users, positives, negatives = targets

    def score_pairs(batch_users, items):
        return np.take_along_axis(score_users(batch_users), items, axis=1)

    return SampledEvaluator().evaluate(score_pairs, users, positives, negatives, ks=ks)
