"""The zoo folders stay in step with the registered recipes."""

import pytest

from conftest import REPO
from tfllmrec.recipes import get_recipe
from tfllmrec.recipes.registry import recipe_names
from tfllmrec.recipes.config_tree import to_yaml

ZOO = sorted(p.name for p in (REPO / "zoo").iterdir() if p.is_dir())


def test_every_builtin_recipe_has_a_zoo_folder_and_back():
    assert ZOO == sorted(recipe_names())
    assert {"video", "ecommerce", "news", "music"} <= set(ZOO)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_config_is_the_resolved_recipe(name):
    folder = REPO / "zoo" / name
    assert (folder / "config.yaml").read_text() == to_yaml(get_recipe(name)), (
        f"zoo/{name}/config.yaml is stale: regenerate it with "
        f"`tfllmrec train {name} --print-config > zoo/{name}/config.yaml`."
    )
    # A config loaded from the folder is the same recipe.
    assert get_recipe(str(folder / "config.yaml")) == get_recipe(name)
    assert f"zoo/{name}" in (folder / "train.py").read_text()
    assert "## Results" in (folder / "README.md").read_text()


def test_the_music_rerank_config_is_the_recipe_plus_its_measured_reranker():
    """zoo/music/rerank.yaml: the settings zoo/music/README.md measured (+6.6% NDCG@10)."""
    config, recipe = get_recipe(str(REPO / "zoo" / "music" / "rerank.yaml")), get_recipe("music")
    assert config.name == "music" and not recipe.ranking.enabled
    assert (config.data, config.model, config.train, config.baseline_model) == (
        recipe.data, recipe.model, recipe.train, recipe.baseline_model)
    ranking = config.ranking
    assert ranking.enabled and ranking.objective == "rerank" and ranking.baselines == ()
    assert (ranking.recent_items, ranking.pair_window, ranking.pair_cosine, ranking.neighbors) == (50, 50, True, 50)
    assert (ranking.ease_l2, ranking.second_retrieval, ranking.folds) == (100.0, "id_two_tower", 5)
    assert tuple(ranking.hidden_units) == (64, 32) and ranking.train.learning_rate == 0.01
    # The second retrieval model is a baseline the run trains anyway.
    assert "id_two_tower" in config.eval.baselines
