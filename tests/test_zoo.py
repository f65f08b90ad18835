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
