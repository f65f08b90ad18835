"""Trains a `TwoTowerRetrieval` with best-on-validation selection."""

import os
import time

import tensorflow as tf

from tfllmrec.evaluation import RankingEvaluator
from tfllmrec.training.ranking_validation import RankingValidation, evaluate_retrieval


def make_optimizer(learning_rate, weight_decay=0.0):
    """Adam, or AdamW when `weight_decay` > 0 (tf-keras optimizers)."""
    if weight_decay > 0:
        return tf.keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
    return tf.keras.optimizers.Adam(learning_rate=learning_rate)


def interactions_dataset(users, items, batch_size, seed):
    """Shuffled `{"user", "item"}` batches, reshuffled every epoch."""
    data = tf.data.Dataset.from_tensor_slices(
        {"user": tf.constant(users, tf.int32), "item": tf.constant(items, tf.int32)}
    )
    return data.shuffle(len(users), seed=seed, reshuffle_each_iteration=True).batch(batch_size)


def train_two_tower(model, index, train, monitor, ks, workdir, verbose=1):
    """Fits `model` on `index`'s train part, keeping the best validation epoch.

    Args:
        model: TwoTowerRetrieval, with `set_training_data` already called.
        index: IndexedSplit.
        train: TrainConfig.
        monitor: str. Validation metric, e.g. "ndcg@10".
        ks: tuple of int. Cut-offs.
        workdir: str. Receives `best` checkpoint files and TensorBoard `logs`.
        verbose: int. Keras progress output (0, 1 bar, 2 line per epoch).

    Returns:
        dict with "best_epoch" (1-based), "epochs_run", "valid" (metrics at
        the best epoch), "valid_history" and "seconds".
    """
    start = time.time()
    model.compile(
        optimizer=make_optimizer(train.learning_rate, train.weight_decay),
        jit_compile=train.jit_compile,
    )
    validation = RankingValidation(
        index.targets("valid", ["train"]),
        os.path.join(workdir, "best"),
        monitor=monitor, ks=ks, patience=train.patience,
        log_dir=os.path.join(workdir, "logs", "validation"),
    )
    callbacks = [validation, tf.keras.callbacks.TensorBoard(os.path.join(workdir, "logs"))]
    history = model.fit(
        interactions_dataset(index.train_users, index.train_items, train.batch_size, train.seed),
        epochs=train.epochs, callbacks=callbacks, verbose=verbose,
    )
    return {
        "best_epoch": validation.best_epoch + 1,
        "epochs_run": len(history.history["loss"]),
        "valid": validation.best_metrics,
        "valid_history": validation.history,
        "loss_history": [float(x) for x in history.history["loss"]],
        "seconds": round(time.time() - start, 1),
    }


def evaluate_on_test(model, index, ks, cold=False):
    """Test metrics, the history now including validation interactions.

    Args:
        cold: bool. Rank only among `index.cold_items` (cold-start).
    """
    if model.max_history:
        model.user_tower.set_history(index.per_user("train", "valid"))
    candidates = index.cold_items if cold else None
    targets = index.targets("test", ["train", "valid"])
    return evaluate_retrieval(model, targets, RankingEvaluator(ks=ks), candidates=candidates)
