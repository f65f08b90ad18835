"""Training loops and helpers for tfllmrec models."""

from tfllmrec.training.indexed_split import IndexedSplit, sampled_targets
from tfllmrec.training.retrieval_trainer import (
    epoch_dataset,
    evaluate_on_test,
    evaluate_retrieval,
    make_optimizer,
    train_two_tower,
)

__all__ = [
    "IndexedSplit", "sampled_targets", "epoch_dataset", "evaluate_on_test", "evaluate_retrieval",
    "make_optimizer", "train_two_tower",
]
