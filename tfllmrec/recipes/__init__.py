"""Recipes: typed configs registered by name, and the pipeline that runs them."""

from tfllmrec.recipes.config_tree import from_dict, merge_yaml, to_dict, to_yaml, with_overrides
from tfllmrec.recipes.data_config import DataConfig
from tfllmrec.recipes.eval_config import EvalConfig
from tfllmrec.recipes.export_config import ExportConfig
from tfllmrec.recipes.model_config import ModelConfig
from tfllmrec.recipes.recipe_config import RecipeConfig
from tfllmrec.recipes.registry import get_recipe, recipe_names, register_recipe
from tfllmrec.recipes.train_config import TrainConfig

__all__ = [
    "DataConfig", "EvalConfig", "ExportConfig", "ModelConfig", "RecipeConfig", "TrainConfig",
    "from_dict", "get_recipe", "merge_yaml", "recipe_names", "register_recipe",
    "to_dict", "to_yaml", "with_overrides",
]
