"""The rating stage of a retrieval recipe: `TextRanking` on the split's ratings, and its baselines."""

import numpy as np
import tensorflow as tf

from tfllmrec.errors import ConfigError, DataError
from tfllmrec.evaluation import SurpriseBaseline, rating_metrics, surprise_available
from tfllmrec.evaluation.rating_baselines import SURPRISE_MISSING
from tfllmrec.models import TextRanking
from tfllmrec.tasks.new_users import check_held_out_users, held_out_users, split_for_new_users
from tfllmrec.tasks.phase import Phase
from tfllmrec.tasks.task import text_table_of
from tfllmrec.training import epoch_dataset, train_model, training_scope

TITLES = {"svd": "scikit-surprise SVD (rating baseline)", "svdpp": "scikit-surprise SVD++ (rating baseline)"}


def check_rating_stage(ranking, index, dataset):
    """Fails before anything is written when the rating stage cannot run:
    ratings all alike (no rating column), profiles asked of data without
    them, or a baseline's library missing."""
    if not ranking.enabled or ranking.objective != "rating":
        return
    if len(np.unique(index.train_weights)) < 2:
        raise DataError("ranking.enabled=true needs ratings: every training interaction has the same "
                        f"weight ({index.train_weights[:1].tolist()}), so there is nothing to predict. "
                        "Fix: give the data a rating (weight) column, or `--set ranking.enabled=false`.")
    if ranking.user_profile and dataset.users is None:
        raise DataError(f"ranking.user_profile=true reads each user's profile, and the data ({dataset.name}) "
                        "has no users file. Fix: add one (MovieLens' u.user or ml-100k.user beside the ratings; "
                        "your own: data.users and data.user_fields), or `--set ranking.user_profile=false`.")
    if ranking.user_profile and not (dataset.users.texts(index.user_ids) != "").any():
        raise DataError(f"{dataset.users.source}: none of its user ids is a user of the interactions (e.g. "
                        f"{', '.join(map(repr, dataset.users.ids[:3]))} against {', '.join(map(repr, index.user_ids[:3]))}), "
                        "so no user would have a profile. Fix: name the users file's id column as the "
                        "interactions' (columns['user_id']), or `--set ranking.user_profile=false`.")
    if ranking.user_profile:
        check_held_out_users(ranking.held_out_users, index.num_users, "ranking.held_out_users")
    missing = [name for name in ranking.baselines if not surprise_available()]
    if missing:
        raise ConfigError(f"ranking.baselines {missing} {SURPRISE_MISSING}")


def rating_phases(ranking):
    """The rating stage's phases: ours, each baseline, then the new-user protocol."""
    if not ranking.enabled:
        return []
    # Revision 2: its result no longer scores the training users as if new
    # (the leaky `test_as_new_users`); "rating_new_users" does that cleanly.
    phases = [Phase("ranking", "rating model: ours (TextRanking)", "rating", workdir="ranking", revision=2)]
    phases += [Phase(f"ranking_{name}", TITLES[name], "surprise") for name in ranking.baselines]
    if ranking.objective == "rating" and ranking.user_profile and ranking.held_out_users:
        phases.append(Phase("rating_new_users", f"rating model without {ranking.held_out_users:.0%} of the users: "
                            "new users from their profile", "rating_new_users", workdir="rating_new_users"))
    return phases


def build_rating_model(ranking, num_users, num_items, text_dim, user_text_dim=None):
    """The `TextRanking` of a recipe's `RankingConfig`."""
    return TextRanking(num_users=num_users, num_items=num_items, text_dim=text_dim if ranking.use_text else None,
                       user_text_dim=user_text_dim if ranking.user_profile else None, **ranking.model_options())


def user_profile_table(model_config, users, user_ids):
    """`[len(user_ids), d]` embeddings of the users' profiles by the recipe's
    encoder; zeros for a user without one."""
    texts = users.texts(user_ids)
    table = text_table_of(model_config, texts)
    table[texts == ""] = 0.0
    return table


def prepare_rating_model(model, index, text_table, profile_table=None):
    """Fills a rating model's tables from the training split."""
    model.set_training_data(index.item_counts(), text_table, index.per_user("train"), index.train_weights,
                            user_profiles=profile_table)


def predict_ratings(model, users, items, scale, batch=8192, profiles=None):
    """Predicted ratings, clipped to the training ratings' range `scale` (as Surprise clips);
    `profiles` `[len(users), d]` replace the stored ones (a user of index -1 is then new)."""
    predictions = [model.predict_scores(tf.constant(users[i:i + batch], tf.int32),
                                        tf.constant(items[i:i + batch], tf.int32),
                                        profiles=None if profiles is None else tf.constant(profiles[i:i + batch]))
                   .numpy() for i in range(0, len(users), batch)]
    return np.clip(np.concatenate(predictions) if predictions else np.zeros(0), *scale)


def as_new_users(model, index, scale, profile_table):
    """Test RMSE and MAE with every test user scored as a user without id or
    rated items: from their profile alone, and from nothing (the items' terms)."""
    unknown = np.full(len(index.test_users), -1)
    profiles = profile_table[index.test_users]
    return {name: rating_metrics(predict_ratings(model, unknown, index.test_items, scale, profiles=given),
                                 index.test_weights)
            for name, given in (("profile", profiles), ("no_profile", np.zeros_like(profiles)))}


def train_rating_model(ranking, index, text_table, workdir, verbose, profile_table=None):
    """Trains ours on the training ratings; best epoch by validation RMSE. Returns its result."""
    model, fit, scale = fit_rating_model(ranking, index, text_table, workdir, verbose, profile_table)
    test = rating_metrics(predict_ratings(model, index.test_users, index.test_items, scale), index.test_weights)
    return {"test": test, "training": fit}


def train_for_new_users(ranking, index, text_table, workdir, verbose, profile_table, seed):
    """The new-user protocol: ours trained without `ranking.held_out_users` of
    the users (drawn by `seed`), then their test ratings predicted from their
    profile alone and from nothing."""
    held = held_out_users(index.num_users, ranking.held_out_users, seed)
    view = split_for_new_users(index, held)
    model, fit, scale = fit_rating_model(ranking, view, text_table, workdir, verbose, profile_table)
    return {"users": int(held.sum()), "ratings": int(len(view.test_users)), "training": fit,
            **as_new_users(model, view, scale, profile_table)}


def fit_rating_model(ranking, index, text_table, workdir, verbose, profile_table=None):
    """(model at its best validation RMSE, training record, the ratings' (low, high))."""
    train = ranking.train
    scale = (float(index.train_weights.min()), float(index.train_weights.max()))
    with training_scope(train):
        model = build_rating_model(ranking, index.num_users, index.num_items,
                                   None if text_table is None else text_table.shape[1],
                                   None if profile_table is None else profile_table.shape[1])
        prepare_rating_model(model, index, text_table, profile_table)

        def validate():
            return rating_metrics(predict_ratings(model, index.valid_users, index.valid_items, scale),
                                  index.valid_weights)

        fit = train_model(
            model, lambda epoch: epoch_dataset(index.train_users, index.train_items, train.batch_size,
                                               train.seed, epoch, labels=index.train_weights),
            {"user": tf.constant([0]), "item": tf.constant([0]), "label": tf.constant([1.0])},
            train, validate, "rmse", workdir, verbose)
    return model, fit, scale


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
    new_users = {"test_new_users": results["rating_new_users"]} if "rating_new_users" in results else {}
    return dict(results["ranking"], baselines=baselines, **new_users)


def rating_summary_lines(ranking_metrics):
    """RMSE and MAE of ours and each baseline, for the CLI."""
    if "rmse" not in ranking_metrics["test"]:
        return []
    rows = [("ours", ranking_metrics["test"])]
    rows += [(name, b["test"]) for name, b in ranking_metrics.get("baselines", {}).items()]
    new = ranking_metrics.get("test_new_users", {})
    rows += [(f"new user, {'profile' if name == 'profile' else 'none'}", new[name]) for name in ("profile", "no_profile")
             if name in new]
    lines = [f"{'rating model':17s} {'RMSE':>10s} {'MAE':>10s}"]
    return lines + [f"{name:17s} {test['rmse']:10.4f} {test['mae']:10.4f}" for name, test in rows]
