"""`EpochProgress`: what a person reads while a model trains."""

import sys
import time

import tensorflow as tf


class EpochProgress(tf.keras.callbacks.Callback):
    """Counts an epoch against the whole schedule and averages its loss terms.

    The trainer calls `fit` once per epoch (each epoch's data order is fixed
    by its number, so a resumed run sees the same batches), which would make
    Keras print `Epoch 1/1` every time: Keras stays silent and this callback
    shows `epoch 7/60` with a bar over the steps (`verbose=1`) or one line per
    epoch (`verbose=2`, for logs). Loss terms that are zero throughout (TFRS
    reports `regularization_loss` for models that have none) are left out.

    Args:
        epoch: int. 0-based epoch about to run.
        epochs: int. The schedule's length.
        steps: int or None. Steps in the epoch, for the bar.
        done: int. Steps of this epoch already trained (a resumed run).
        verbose: int. 0 silent, 1 bar, 2 nothing until the trainer's line.

    Example:
    >>> progress = EpochProgress(epoch=6, epochs=60, steps=10, verbose=0)
    >>> progress.label
    'epoch 7/60'
    """

    def __init__(self, epoch, epochs, steps=None, done=0, verbose=1):
        super().__init__()
        self.label = f"epoch {epoch + 1}/{epochs}"
        self.steps, self.done, self.verbose = steps, int(done), int(verbose)
        self.sums, self.count, self.bar, self.started = {}, 0, None, time.time()

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose == 1:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.steps, initial=self.done, desc=self.label, unit="step",
                            leave=False, file=sys.stdout, dynamic_ncols=True)

    def on_train_batch_end(self, batch, logs=None):
        for key, value in (logs or {}).items():
            if key != "total_loss":  # loss + regularization: shown as its parts
                self.sums[key] = self.sums.get(key, 0.0) + float(value)
        self.count += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(self._terms(), refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        if self.bar is not None:
            self.bar.close()

    def mean(self, key="loss"):
        """The epoch's mean of a logged term (nan before any step)."""
        return self.sums.get(key, float("nan")) / max(self.count, 1)

    def _terms(self):
        return ", ".join(f"{key} {self.mean(key):.4f}" for key in self.sums if self.sums[key] != 0.0)

    def summary(self):
        """`epoch 7/60: loss 5.1234, 3.2 s`: the epoch's nonzero loss terms."""
        terms = self._terms() or "no step"
        return f"{self.label}: {terms}, {time.time() - self.started:.1f} s"
