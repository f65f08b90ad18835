"""TFRS models built from tfllmrec towers."""

from tfllmrec.models.two_tower_retrieval import TwoTowerRetrieval

__all__ = ["TwoTowerRetrieval"]
