"""TFRS models built from tfllmrec towers."""

from tfllmrec.models.candidate_reranker import CandidateReranker
from tfllmrec.models.nrms import NRMS
from tfllmrec.models.sequential_retrieval import SequentialRetrieval
from tfllmrec.models.text_ranking import TextRanking
from tfllmrec.models.two_tower_retrieval import TwoTowerRetrieval

__all__ = ["CandidateReranker", "NRMS", "SequentialRetrieval", "TextRanking", "TwoTowerRetrieval"]
