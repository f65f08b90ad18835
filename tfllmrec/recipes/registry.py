"""The recipe registry: names -> `RecipeConfig`s (the zoo's presets and your
own `register_recipe` calls), plus recipe folders and YAML files."""

import difflib
from pathlib import Path

from tfllmrec.errors import ConfigError
from tfllmrec.recipes.config_tree import merge_yaml, read_yaml_mapping
from tfllmrec.recipes.presets import PRESETS
from tfllmrec.recipes.recipe_config import RecipeConfig

_RECIPES = dict(PRESETS)


def register_recipe(config):
    """Registers `config` under `config.name` (the latest registration wins)."""
    _RECIPES[config.name] = config
    return config


def recipe_names():
    """Registered recipe names, sorted."""
    return sorted(_RECIPES)


def get_recipe(name_or_path):
    """A registered recipe by name, or a recipe folder / YAML file.

    A folder must hold `config.yaml`; a YAML file may set only some keys:
    it starts from the recipe named by its `name` key, else the defaults.
    """
    if name_or_path in _RECIPES:
        return _RECIPES[name_or_path]
    path = Path(name_or_path)
    if path.is_dir():
        path = path / "config.yaml"
    if path.suffix in (".yaml", ".yml") and path.is_file():
        base = _RECIPES.get(read_yaml_mapping(path).get("name"), RecipeConfig())
        return merge_yaml(base, path)
    found = difflib.get_close_matches(str(name_or_path), list(_RECIPES), n=1, cutoff=0.6)
    guess = f" Did you mean {found[0]!r}?" if found else ""
    if path.is_file():
        guess += f" {path} is a file, but not a YAML recipe (.yaml or .yml)."
    elif path.suffix in (".yaml", ".yml") or path.parent != Path("."):
        guess += f" There is no file {path}."
    raise ConfigError(
        f"No recipe {str(name_or_path)!r}.{guess} Registered recipes: "
        f"{', '.join(sorted(_RECIPES)) or 'none'}; or pass a recipe folder holding "
        "config.yaml, or a YAML file."
    )


def run_config(path):
    """The config a run folder recorded (its `config.yaml`), as the run used it.

    Unlike `get_recipe`, keys missing from the file (options added to tfllmrec
    after the run) take their dataclass defaults, which keep the behaviour of
    the code that wrote it, not the registered recipe's current values: an old
    `video` run must not pick up options its model was never trained with.
    """
    return merge_yaml(RecipeConfig(), Path(path))

