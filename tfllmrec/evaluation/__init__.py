"""Offline evaluation: ranking metrics and a popularity baseline.

NumPy only (no TensorFlow import), so it stays fast and usable anywhere; the
models hand it NumPy score matrices. Users and items are integer indices.

- `RankingEvaluator`: full-ranking top-K recall/ndcg/hit/mrr/precision
  (RecBole's definitions), with excluded items and candidate subsets.
- `SampledEvaluator`: HR@K and NDCG@K of one positive among sampled negatives
  (ReChorus's convention).
- `ImpressionEvaluator`: MIND's per-impression AUC, MRR and nDCG@K.
- `Popularity`: the most-popular-items baseline.
- `ItemKNN`: the item-based neighbourhood baseline, scoring a history.
- `rating_metrics` (RMSE, MAE) and `SurpriseBaseline` (scikit-surprise's SVD
  and SVD++, from the `baselines` extra).
- `text_search`: free-text search Recall@K/NDCG@K (`search_metrics`), BM25
  (`bm25_scores`), cosine and z-scored blends (benchmarks/text_search.py).
"""

from tfllmrec.evaluation.impression_evaluator import ImpressionEvaluator
from tfllmrec.evaluation.item_knn import ItemKNN
from tfllmrec.evaluation.popularity import Popularity
from tfllmrec.evaluation.ranking_evaluator import RankingEvaluator
from tfllmrec.evaluation.rating_baselines import SurpriseBaseline, rating_metrics, surprise_available
from tfllmrec.evaluation.sampled_evaluator import SampledEvaluator
from tfllmrec.evaluation.text_search import align_queries, bm25_scores, choose_blend, search_metrics

__all__ = ["RankingEvaluator", "SampledEvaluator", "ImpressionEvaluator", "Popularity", "ItemKNN",
           "SurpriseBaseline", "rating_metrics", "surprise_available", "align_queries", "bm25_scores", "choose_blend",
           "search_metrics"]
