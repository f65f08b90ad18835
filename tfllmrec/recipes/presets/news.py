"""`news`: NeMig English news (MIND format; MIND itself with `--set data.dataset=mind`).

Settings chosen on a holdout of 20% of the training impressions (AUC averaged
over split seeds 1-3; the test parts were never used to choose); see
zoo/news/README.md for what was tried.
"""

from tfllmrec.recipes.data_config import DataConfig
from tfllmrec.recipes.eval_config import EvalConfig
from tfllmrec.recipes.model_config import ModelConfig
from tfllmrec.recipes.recipe_config import RecipeConfig
from tfllmrec.recipes.train_config import TrainConfig

NEWS = RecipeConfig(
    name="news",
    description="NeMig news (MIND format): user = pooled MiniLM text of the click history; "
                "per-impression AUC/MRR/nDCG",
    data=DataConfig(dataset="nemig", split="impressions", ratios=(0.7, 0.03, 0.27),
                    split_seed=1, cold_start_fraction=0.0),
    # Small: one dimension carries most of NeMig's signal (how clickable an
    # article is); 128-d ids overfit. User ids hurt (every user has 5 impressions).
    model=ModelConfig(
        sequence_length=96, use_text=True, use_user_ids=False, use_item_ids=True,
        embedding_dim=16, text_hidden_dim=256, id_dropout=0.0, history_pooling="text",
        max_history=50, temperature=0.1,
        # Which article it is predicts a NeMig click better than whose history it
        # meets: each news's smoothed click-through rate in the training
        # impressions is added to its logit (chosen on the holdout too).
        ctr_prior_weight=4.0, ctr_prior_strength=40.0,
    ),
    train=TrainConfig(epochs=20, batch_size=128, learning_rate=3e-3, patience=5, seed=42),
    eval=EvalConfig(ks=(3, 5, 6, 10), monitor="auc",
                    baselines=("popularity", "ctr", "id_two_tower", "nrms")),
    baseline_model=ModelConfig(
        sequence_length=96, use_text=False, use_user_ids=True, use_item_ids=True,
        embedding_dim=16, id_dropout=0.0, history_pooling="ids", temperature=0.2,
    ),
    baseline_train=TrainConfig(epochs=20, batch_size=128, learning_rate=3e-3, patience=5, seed=42),
)
