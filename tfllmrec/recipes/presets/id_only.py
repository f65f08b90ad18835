"""The ID-only two-tower baseline that the id-based recipes start from."""

from tfllmrec.recipes.model_config import ModelConfig

# Its own best setting on MovieLens (dim 128, temperature 0.2, full softmax,
# Adam 3e-3); a recipe re-tunes what its data needs (ecommerce, music: temperature).
ID_ONLY = ModelConfig(
    use_text=False, id_dropout=0.0, history_pooling="none", temperature=0.2,
    loss="full_softmax", embedding_dim=128,
)
