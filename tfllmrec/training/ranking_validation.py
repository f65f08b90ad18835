"""`RankingValidation`: per-epoch full-ranking validation, best-epoch checkpoint."""

import math

import numpy as np
import tensorflow as tf

from tfllmrec.evaluation import RankingEvaluator


class RankingValidation(tf.keras.callbacks.Callback):
    """Evaluates a retrieval model on validation after each epoch.

    Keeps the weights of the best epoch (by `monitor`) in a checkpoint,
    stops after `patience` epochs without improvement, restores the best
    weights when training ends, and logs the metrics to TensorBoard.

    Args:
        targets: (users, positives, exclude) from `IndexedSplit.targets`.
        checkpoint_path: str. Where the best weights are saved.
        monitor: str. A metric key such as "ndcg@10".
        ks: tuple of int. Cut-offs to compute.
        patience: int. Epochs without improvement before stopping; 0: never.
        log_dir: str or None. TensorBoard folder for validation scalars.

    Example:
    >>> model.fit(data, epochs=30, callbacks=[RankingValidation(targets, "/tmp/best")])
    """

    def __init__(self, targets, checkpoint_path, monitor="ndcg@10", ks=(10,), patience=5, log_dir=None):
        super().__init__()
        self.targets = targets
        self.checkpoint_path = str(checkpoint_path)
        self.monitor = monitor
        self.ks = tuple(ks)
        self.patience = int(patience)
        self.log_dir = log_dir
        self.evaluator = RankingEvaluator(ks=self.ks)
        if monitor not in self.evaluator.keys():
            raise ValueError(f"monitor={monitor!r} is not one of {self.evaluator.keys()}.")
        self.best = -math.inf
        self.best_epoch = None
        self.best_metrics = None
        self.history = []
        self._writer = tf.summary.create_file_writer(log_dir) if log_dir else None

    def on_epoch_end(self, epoch, logs=None):
        metrics = evaluate_retrieval(self.model, self.targets, self.evaluator)
        self.history.append(metrics)
        if logs is not None:
            logs.update({f"val_{k}": v for k, v in metrics.items()})
        if self._writer is not None:
            with self._writer.as_default():
                for key, value in metrics.items():
                    tf.summary.scalar(f"validation/{key}", value, step=epoch)
        if metrics[self.monitor] > self.best:
            self.best, self.best_epoch, self.best_metrics = metrics[self.monitor], epoch, metrics
            self.model.save_weights(self.checkpoint_path)
        elif self.patience and epoch - self.best_epoch >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_epoch is not None:
            self.model.load_weights(self.checkpoint_path)


def evaluate_retrieval(model, targets, evaluator, candidates=None):
    """Full-ranking metrics of `model.score` on (users, positives, exclude)."""
    users, positives, exclude = targets

    def score_fn(batch):
        return model.score(tf.constant(batch, tf.int32)).numpy()

    return evaluator.evaluate(score_fn, users, positives, exclude=exclude, candidates=candidates)
