"""The reranking stage the retrieval recipes with a shortlist start from."""

from tfllmrec.recipes.ranking_config import RankingConfig
from tfllmrec.recipes.train_config import TrainConfig

# Chosen on the ecommerce validation holdout (NDCG@10 of the two stages,
# zoo/ecommerce/README.md): an MLP beside the linear term and Adam 1e-2; a
# linear scorer, a 32-unit or a 128-64 MLP, 10 recent items and other pair
# windows were within 0.002 of it or below. Five folds (five heads, each
# measured on the lists it never saw, averaged): test NDCG@10 0.1209 / 0.1198
# / 0.1196 over the reranker's seeds 42 / 1 / 2, against 0.1164 / 0.1190 /
# 0.1116 with one 20% holdout.
RERANK = RankingConfig(
    enabled=True, objective="rerank", baselines=(), candidates=100, recent_items=5, pair_window=3,
    hidden_units=(64, 32), folds=5,
    train=TrainConfig(epochs=40, batch_size=256, learning_rate=1e-2, patience=5, seed=42),
)
