"""The training loop of every tfllmrec model, and where it runs (strategies, precision)."""

from tfllmrec.training.distribution import make_strategy, training_scope
from tfllmrec.training.epoch_data import epoch_batches, epoch_dataset
from tfllmrec.training.trainer import make_optimizer, train_model

__all__ = ["epoch_batches", "epoch_dataset", "make_optimizer", "make_strategy", "train_model", "training_scope"]
