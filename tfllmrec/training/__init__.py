"""Training loops and helpers for tfllmrec models."""

from tfllmrec.training.indexed_split import IndexedSplit
from tfllmrec.training.ranking_validation import RankingValidation, evaluate_retrieval
from tfllmrec.training.retrieval_trainer import evaluate_on_test, make_optimizer, train_two_tower

__all__ = [
    "IndexedSplit", "RankingValidation", "evaluate_retrieval", "evaluate_on_test",
    "make_optimizer", "train_two_tower",
]
