"""The rating stage of a retrieval recipe: `TextRanking` on the split's ratings, and its baselines."""

import numpy as np
import tensorflow as tf

from tfllmrec.errors import ConfigError, DataError
from tfllmrec.evaluation import SurpriseBaseline, rating_metrics, surprise_available
from tfllmrec.evaluation.rating_baselines import SURPRISE_MISSING
from tfllmrec.models import TextRanking
from tfllmrec.tasks.phase import Phase
from tfllmrec.training import epoch_dataset, train_model, training_scope

TITLES = {"svd": "scikit-surprise SVD (rating baseline)", "svdpp": "scikit-surprise SVD++ (rating baseline)"}


def check_rating_stage(ranking, index):
    """Fails before anything is written when the rating stage cannot run:
    ratings all alike (no rating column) or a baseline's library missing."""
    if not ranking.enabled or ranking.objective != "rating":
        return
    if len(np.unique(index.train_weights)) < 2:
        raise DataError("ranking.enabled=true needs ratings: every training interaction has the same "
                        f"weight ({index.train_weights[:1].tolist()}), so there is nothing to predict. "
                        "Fix: give the data a rating (weight) column, or `--set ranking.enabled=false`.")
    missing = [name for name in ranking.baselines if not surprise_available()]
    if missing:
        raise ConfigError(f"ranking.baselines {missing} {SURPRISE_MISSING}")


def rating_phases(ranking):
    """The rating stage's phases: ours, then each baseline."""
    if not ranking.enabled:
        return []
    phases = [Phase("ranking", "rating model: ours (TextRanking)", "rating", workdir="ranking")]
    return phases + [Phase(f"ranking_{name}", TITLES[name], "surprise") for name in ranking.baselines]


def build_rating_model(ranking, num_users, num_items, text_dim):
    """The `TextRanking` of a recipe's `RankingConfig`."""
    return TextRanking(num_users=num_users, num_items=num_items,
                       text_dim=text_dim if ranking.use_text else None, **ranking.model_options())


def prepare_rating_model(model, index, text_table):
    """Fills a rating model's tables from the training split."""
    model.set_training_data(index.item_counts(), text_table, index.per_user("train"), index.train_weights)


def predict_ratings(model, users, items, scale, batch=8192):
    """Predicted ratings, clipped to the training ratings' range `scale` (as Surprise clips)."""
    predictions = [model.predict_scores(tf.constant(users[i:i + batch], tf.int32),
                                        tf.constant(items[i:i + batch], tf.int32)).numpy()
                   for i in range(0, len(users), batch)]
    return np.clip(np.concatenate(predictions) if predictions else np.zeros(0), *scale)


def train_rating_model(ranking, index, text_table, workdir, verbose):
    """Trains ours on the training ratings; best epoch by validation RMSE. Returns its result."""
    train = ranking.train
    scale = (float(index.train_weights.min()), float(index.train_weights.max()))
    with training_scope(train):
        model = build_rating_model(ranking, index.num_users, index.num_items,
                                   None if text_table is None else text_table.shape[1])
        prepare_rating_model(model, index, text_table)

        def validate():
            return rating_metrics(predict_ratings(model, index.valid_users, index.valid_items, scale),
                                  index.valid_weights)

        fit = train_model(
            model, lambda epoch: epoch_dataset(index.train_users, index.train_items, train.batch_size,
                                               train.seed, epoch, labels=index.train_weights),
            {"user": tf.constant([0]), "item": tf.constant([0]), "label": tf.constant([1.0])},
            train, validate, "rmse", workdir, verbose)
    test = rating_metrics(predict_ratings(model, index.test_users, index.test_items, scale), index.test_weights)
    return {"test": test, "training": fit}


def run_surprise(name, index, seed):
    """A Surprise baseline trained on the training ratings, measured on test."""
    model = SurpriseBaseline(name, seed=seed).fit(index.train_users, index.train_items, index.train_weights)
    return {"test": rating_metrics(model.predict(index.test_users, index.test_items), index.test_weights)}


def rating_metrics_of(results):
    """`metrics.json`'s "ranking" entry: ours' result and its baselines'."""
    if "ranking" not in results:
        return None
    baselines = {name[len("ranking_"):]: result for name, result in results.items()
                 if name.startswith("ranking_")}
    return dict(results["ranking"], baselines=baselines)


def rating_summary_lines(ranking_metrics):
    """RMSE and MAE of ours and each baseline, for the CLI."""
    if "rmse" not in ranking_metrics["test"]:
        return []
    rows = [("ours", ranking_metrics["test"])]
    rows += [(name, b["test"]) for name, b in ranking_metrics.get("baselines", {}).items()]
    lines = [f"{'rating model':14s} {'RMSE':>10s} {'MAE':>10s}"]
    return lines + [f"{name:14s} {test['rmse']:10.4f} {test['mae']:10.4f}" for name, test in rows]
