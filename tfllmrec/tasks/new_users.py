"""User cold-start protocols: users held out of training, then served from their clicks or their profile."""

import copy

import numpy as np
import tensorflow as tf

from tfllmrec.errors import ConfigError
from tfllmrec.evaluation import ItemKNN, Popularity, RankingEvaluator
from tfllmrec.models.sequential_retrieval import latest_items


def held_out_users(num_users, fraction, seed):
    """bool `[num_users]`: `fraction` of the users, drawn by `seed`, kept out of training entirely."""
    held = np.zeros(num_users, bool)
    held[np.random.default_rng(seed).permutation(num_users)[:int(round(fraction * num_users))]] = True
    return held


def check_held_out_users(fraction, num_users, key):
    """Fails before anything is written when `fraction` of `num_users` holds out no user, or every one."""
    held = int(round(fraction * num_users))
    if fraction and not 0 < held < num_users:
        raise ConfigError(f"{key}={fraction} of the {num_users} users holds out {held}: the new-user protocol "
                          "needs some users held out and some to train on. Fix: e.g. `--set "
                          f"{key}={max(1, round(0.1 * num_users)) / num_users:.2g}`, or `--set {key}=0` (none).")


def split_for_new_users(index, held):
    """A shallow copy of IndexedSplit `index` whose training and validation
    rows are those of the users not `held`, and whose test rows are the
    held users': a model trained on it has never seen the users it is tested on."""
    view = copy.copy(index)
    for part, keep in (("train", ~held), ("valid", ~held), ("test", held)):
        rows = keep[getattr(index, f"{part}_users")]
        for field in ("users", "items", "times", "weights"):
            setattr(view, f"{part}_{field}", getattr(index, f"{part}_{field}")[rows])
    return view


def without_users(targets, users_left_out):
    """(users, positives, exclude) targets less the rows of users for whom `users_left_out` is True.

    The held-out users' validation and test rows must not reach a model that
    never trained on them: validation would pick its epoch by them, a leak
    into `test_new_users`, and test would mix new users into the known ones.
    """
    users, positives, exclude = targets
    keep = [row for row, user in enumerate(users) if not users_left_out[user]]
    return (np.asarray(users, np.int64)[keep], [positives[row] for row in keep], [exclude[row] for row in keep])


def first_and_second_halves(histories):
    """Each history cut in two: the first half (given at request time) and
    the rest, less what the first half holds (to be found). Histories of
    fewer than 2 items are left out: `(rows, given, wanted)`."""
    rows, given, wanted = [], [], []
    for row, items in enumerate(histories):
        half = len(items) // 2
        rest = np.setdiff1d(np.asarray(items[half:], np.int64), items[:half])
        if half and rest.size:
            rows.append(row)
            given.append(list(items[:half]))
            wanted.append(rest)
    return np.asarray(rows, np.int64), given, wanted


def new_user_metrics(model, histories, training, ks, periods=None):
    """Recall/NDCG@K of `model` serving users it never trained on from the first half of
    their interactions, against the popularity fallback (what an ID model serves a new user)
    and item-based kNN over the same first half (what a classic neighbourhood model gives them).

    Args:
        model: SequentialRetrieval (`query_for_history`, `candidates`).
        histories: list of item lists (oldest first) of the held-out users.
        training: (users, items) int arrays: the training interactions the
            model learnt from; popularity and item-kNN learn from them too.
        periods: lists parallel to `histories`, each item's time period, or
            None. A request is asked at the period of the first item of the
            second half (when the first half ends); None: the latest period.

    Returns:
        {"users": int, "ours": metrics, "popularity": metrics, "item_knn": metrics}.
    """
    rows, given, wanted = first_and_second_halves(histories)
    if not rows.size:
        return {"users": 0}
    asked = None if periods is None else tf.constant([periods[row][len(items)] for row, items in zip(rows, given)])
    queries = model.query_for_history(latest_items(given, model.max_length, len(given)), periods=asked).numpy()
    scores = queries @ model.candidates().numpy().T
    num_items = scores.shape[1]
    popularity = Popularity().fit(training[1], num_items=num_items)
    neighbours = ItemKNN().fit(*training, num_items=num_items).score_histories(given)
    evaluator, users = RankingEvaluator(ks=ks), np.arange(len(given))
    exclude = [np.asarray(items, np.int64) for items in given]
    return {"users": int(len(given)),
            "ours": evaluator.evaluate(lambda batch: scores[batch], users, wanted, exclude=exclude),
            "popularity": evaluator.evaluate(popularity.score, users, wanted, exclude=exclude),
            "item_knn": evaluator.evaluate(lambda batch: neighbours[batch], users, wanted, exclude=exclude)}
