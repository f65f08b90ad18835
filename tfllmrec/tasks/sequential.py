"""The sequential retrieval models of a retrieval recipe (`sequence:`), trained SASRec-style."""

import tensorflow as tf

from tfllmrec.models import SequentialRetrieval
from tfllmrec.models.sequential_retrieval import latest_items
from tfllmrec.tasks.phase import Phase
from tfllmrec.training import epoch_batches, train_model, training_scope

# What each variant's items are: (item ids, item text).
VARIANTS = {"sasrec_id": (True, False), "sasrec_hybrid": (True, True), "sasrec_text": (False, True)}
TITLES = {"sasrec_id": "SASRec: sequential query tower over item ids (baseline)",
          "sasrec_hybrid": "sequential query tower over item ids + text",
          "sasrec_text": "sequential query tower, ID-free: item text only"}


def sequential_phases(baselines):
    """A phase per sequential model `eval.baselines` names, in `VARIANTS`' order."""
    return [Phase(name, TITLES[name], "sequential", workdir=name) for name in VARIANTS if name in baselines]


def needs_text(baselines):
    """Whether a sequential model of `baselines` reads the items' text."""
    return any(VARIANTS[name][1] for name in VARIANTS if name in baselines)


def build_sequential(sequence, variant, num_users, num_items, text_dim):
    """The `SequentialRetrieval` of a `SequenceConfig` and a variant name."""
    use_ids, use_text = VARIANTS[variant]
    return SequentialRetrieval(num_users=num_users, num_items=num_items, text_dim=text_dim if use_text else None,
                               use_item_ids=use_ids, **sequence.model_options())


def training_sequences(histories, length):
    """`[users with 2+ items, length + 1]`: each user's latest training items, the targets of a shift."""
    kept = [items for items in histories if len(items) >= 2]
    return latest_items(kept, length + 1, len(kept))


def train_sequential(config, variant, index, text_table, workdir, verbose, evaluate):
    """Trains one sequential model; best epoch by `eval.monitor` on validation.

    Args:
        evaluate: callable(model, part) -> metrics of "valid" (histories: the
            training items) or "test" (training and validation items).

    Returns:
        (model, {"test", "training"}).
    """
    sequence = config.sequence
    train = sequence.train
    sequences = training_sequences(index.per_user("train"), sequence.max_length)
    with training_scope(train):
        model = build_sequential(sequence, variant, index.num_users, index.num_items,
                                 None if text_table is None else text_table.shape[1])
        model.set_training_data(index.item_counts(), index.per_user("train"), text_table)
        fit = train_model(
            model, lambda epoch: epoch_batches({"sequence": tf.constant(sequences)}, train.batch_size, train.seed,
                                               epoch),
            {"sequence": tf.constant(sequences[:2])}, train, lambda: evaluate(model, "valid"),
            config.eval.monitor, workdir, verbose)
    model.set_history(index.per_user("train", "valid"))
    return model, {"test": evaluate(model, "test"), "training": dict(fit, sequences=int(len(sequences)))}
