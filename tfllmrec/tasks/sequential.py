"""The sequential retrieval models of a retrieval recipe (`sequence:`), trained SASRec-style."""

import numpy as np
import tensorflow as tf

from tfllmrec.models import SequentialRetrieval
from tfllmrec.models.sequential_retrieval import latest_items
from tfllmrec.tasks.new_users import held_out_users, new_user_metrics
from tfllmrec.tasks.phase import Phase
from tfllmrec.training import epoch_batches, train_model, training_scope

# What each variant's items are: (item ids, item text).
VARIANTS = {"sasrec_id": (True, False), "sasrec_hybrid": (True, True), "sasrec_text": (False, True)}
TITLES = {"sasrec_id": "SASRec: sequential query tower over item ids (baseline)",
          "sasrec_hybrid": "sequential query tower over item ids + text",
          "sasrec_text": "sequential query tower, ID-free: item text only"}


# 2: the held-out users left validation and test (2026-12-07).
REVISION = 2


def sequential_phases(baselines):
    """A phase per sequential model `eval.baselines` names, in `VARIANTS`' order."""
    return [Phase(name, TITLES[name], "sequential", workdir=name, revision=REVISION)
            for name in VARIANTS if name in baselines]


def needs_text(baselines):
    """Whether a sequential model of `baselines` reads the items' text."""
    return any(VARIANTS[name][1] for name in VARIANTS if name in baselines)


def build_sequential(config, variant, num_users, num_items, text_dim, num_periods=0):
    """The `SequentialRetrieval` of a recipe's `sequence:` section (the encoder: `model:`'s) and a variant name.

    User ids (`sequence.use_user_ids`) go to the variants with item ids: the ID-free one has no id of any kind.
    """
    use_ids, use_text = VARIANTS[variant]
    options = config.sequence.model_options()
    options["use_user_ids"] = options["use_user_ids"] and use_ids
    return SequentialRetrieval(num_users=num_users, num_items=num_items, text_dim=text_dim if use_text else None,
                               num_periods=num_periods, use_item_ids=use_ids, encoder=config.model.encoder,
                               sequence_length=config.model.sequence_length, **options)


def training_sequences(histories, length, periods=None):
    """The training features of users with 2+ items: `"sequence"` `[users, length + 1]`, each one's
    latest training items (the targets of a shift), `"user"` their indices, and with `periods` (lists
    parallel to `histories`) `"periods"`, the items' periods."""
    users = np.asarray([user for user, items in enumerate(histories) if len(items) >= 2], np.int32)
    features = {"sequence": latest_items([histories[u] for u in users], length + 1, len(users)), "user": users}
    if periods is not None:
        features["periods"] = latest_items([periods[u] for u in users], length + 1, len(users))
    return features


def train_sequential(config, variant, index, text_table, workdir, verbose, evaluate, attach_text_inputs):
    """Trains one sequential model; best epoch by `eval.monitor` on validation.

    `sequence.held_out_users` of the users (drawn by `data.split_seed`) are
    left out of training entirely; the model still serves them from their
    history like everyone else, and `test_new_users` measures it on them:
    the first half of each one's interactions given, the rest to be found.
    Validation and test (`evaluate`) measure the other users only. With
    `sequence.period_days`, each evaluated request is asked at its target's
    time (the period of the user's validation or test item), as the
    two-tower's periods are.

    Args:
        evaluate: callable(model, part, users_left_out) -> metrics of "valid"
            (histories: the training items) or "test" (training and validation
            items), without the users for whom `users_left_out` is True.
        attach_text_inputs: callable(model) -> model: `Task.attach_text_inputs`
            (the items' cached encoder inputs, when the encoder fine-tunes).

    Returns:
        (model, {"test", "training", "test_new_users"}, bool `[num_users]`: the held-out users).
    """
    sequence, days = config.sequence, config.sequence.period_days
    train = sequence.train
    held = held_out_users(index.num_users, sequence.held_out_users, config.data.split_seed)
    histories = index.per_user("train")
    trained = [[] if held[user] else items for user, items in enumerate(histories)]
    features = training_sequences(trained, sequence.max_length,
                                  index.per_user_periods(days, "train") if days else None)
    trained_rows = ~held[index.train_users]
    counts = np.bincount(index.train_items[trained_rows], minlength=index.num_items)
    with training_scope(train):
        model = build_sequential(config, variant, index.num_users, index.num_items,
                                 None if text_table is None else text_table.shape[1],
                                 index.num_periods(days) if days else 0)
        model.set_training_data(counts, histories, text_table)
        _ask_at(model, index, "valid")
        attach_text_inputs(model)
        fit = train_model(
            model, lambda epoch: epoch_batches(features, train.batch_size, train.seed, epoch),
            {name: tf.constant(values[:2]) for name, values in features.items()}, train,
            lambda: evaluate(model, "valid", held), config.eval.monitor, workdir, verbose)
    model.set_history(index.per_user("train", "valid"))
    _ask_at(model, index, "test")
    result = {"test": evaluate(model, "test", held),
              "training": dict(fit, sequences=int(len(features["sequence"])))}
    if held.any():
        parts = ("train", "valid", "test")
        everything = index.per_user(*parts)
        periods = index.per_user_periods(days, *parts) if days else None
        result["test_new_users"] = new_user_metrics(
            model, [everything[u] for u in np.flatnonzero(held)],
            (index.train_users[trained_rows], index.train_items[trained_rows]), tuple(config.eval.ks),
            None if periods is None else [periods[u] for u in np.flatnonzero(held)])
    return model, result, held


def _ask_at(model, index, part):
    """With time periods, each user's request is asked at the period of their latest `part` interaction."""
    if model.num_periods:
        model.set_periods(index.latest_periods(model.options["period_days"], part))


def new_user_lines(metrics, k):
    """The user cold-start protocol's rows (`test_new_users`) for the CLI's summary."""
    rows = [(name, result["test_new_users"]) for name, result in metrics.get("baselines", {}).items()
            if result.get("test_new_users", {}).get("users")]
    if not rows:
        return []
    lines = ["", f"{'new users':18s} {f'Recall@{k}':>10s} {f'NDCG@{k}':>10s}  (held out of the sasrec_* models' "
                 "training and test rows above; the first half of their items given)"]
    for name, new in rows:
        for who, reference in (("ours", None), ("popularity", "popularity"), ("item_knn", "item-kNN")):
            if who not in new:  # runs from before item-kNN joined the protocol
                continue
            label = f"  {reference} ({new['users']})" if reference else name
            lines.append(f"{label:18s} {new[who][f'recall@{k}']:10.4f} {new[who][f'ndcg@{k}']:10.4f}")
    return lines
