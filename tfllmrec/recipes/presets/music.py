"""`music`: Last.fm-2k artists, ids plus MiniLM text of the name and top tags."""

import dataclasses

from tfllmrec.recipes.data_config import DataConfig
from tfllmrec.recipes.eval_config import EvalConfig
from tfllmrec.recipes.model_config import ModelConfig
from tfllmrec.recipes.presets.id_only import ID_ONLY
from tfllmrec.recipes.recipe_config import RecipeConfig
from tfllmrec.recipes.search_config import SearchConfig
from tfllmrec.recipes.train_config import TrainConfig

_SCHEDULE = TrainConfig(epochs=40, batch_size=2048, learning_rate=3e-3, patience=5, seed=42)

MUSIC = RecipeConfig(
    name="music",
    description="Last.fm-2k artists: item ids + MiniLM artist-name/top-tags text (cached), "
                "per-user random 8:1:1, cold-start ready",
    data=DataConfig(dataset="lastfm-2k", split="random", split_seed=2020),
    # Temperatures chosen on validation NDCG@10 for each model on its
    # own (0.05, 0.1, 0.15, 0.2; zoo/music/README.md): 17,632 artists
    # want a sharper softmax than MovieLens' 1,682 movies.
    model=ModelConfig(
        sequence_length=64, use_text=True, id_dropout=0.3, history_pooling="none",
        temperature=0.15, loss="full_softmax", embedding_dim=128,
    ),
    train=_SCHEDULE,
    eval=EvalConfig(ks=(5, 10, 20), monitor="ndcg@10"),
    baseline_model=dataclasses.replace(ID_ONLY, temperature=0.1),
    baseline_train=_SCHEDULE,
    # Weights chosen on 100 of benchmarks/text_search.py's 200 Last.fm tag
    # queries, measured on the other 100 (zoo/music/README.md).
    search=SearchConfig(cosine_weight=0.2, collaborative_weight=0.3, popularity_weight=0.5),
)
