"""`ecommerce`: Amazon Office, the user as their recent items and the week they shop in."""

import dataclasses

from tfllmrec.recipes.data_config import DataConfig
from tfllmrec.recipes.eval_config import EvalConfig
from tfllmrec.recipes.model_config import ModelConfig
from tfllmrec.recipes.presets.id_only import ID_ONLY
from tfllmrec.recipes.presets.rerank import RERANK
from tfllmrec.recipes.recipe_config import RecipeConfig
from tfllmrec.recipes.train_config import TrainConfig

_SCHEDULE = TrainConfig(epochs=30, batch_size=512, learning_rate=3e-3, patience=4, seed=42)

ECOMMERCE = RecipeConfig(
    name="ecommerce",
    description="Amazon Office (ReChorus leave-one-out, 99 shipped negatives): the user is their "
                "recent items (ids + MiniLM text, no user ids) and the week they shop in; "
                "cold-start ready",
    data=DataConfig(dataset="amazon-office", split="predefined", split_seed=2020),
    # Chosen on validation NDCG@10 (zoo/ecommerce/README.md): a week's
    # period vector says which of 14 years of products are current.
    # Each model's temperature is its own best of 0.05-0.2.
    model=ModelConfig(
        sequence_length=64, use_text=True, use_user_ids=False, use_item_ids=True,
        history_pooling="shared", max_history=50, id_dropout=0.3, temperature=0.1,
        loss="full_softmax", embedding_dim=128, period_days=7,
    ),
    train=_SCHEDULE,
    eval=EvalConfig(ks=(5, 10, 20), monitor="ndcg@10"),
    # The same time periods: a fair baseline knows the week too.
    baseline_model=dataclasses.replace(ID_ONLY, period_days=7, temperature=0.15),
    baseline_train=_SCHEDULE,
    # The retrieval stage's top 100 re-ordered (zoo/ecommerce/README.md).
    ranking=RERANK,
)
