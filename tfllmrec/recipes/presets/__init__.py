"""The zoo's recipes as plain data, like keras-hub's presets: one module per recipe.

Importing them registers nothing; `tfllmrec.recipes.registry` reads
`PRESETS`. `zoo/<name>/config.yaml` is each one resolved and written out
(`tfllmrec train <name> --print-config`).
"""

from tfllmrec.recipes.presets.ecommerce import ECOMMERCE
from tfllmrec.recipes.presets.music import MUSIC
from tfllmrec.recipes.presets.news import NEWS
from tfllmrec.recipes.presets.video import VIDEO

PRESETS = {recipe.name: recipe for recipe in (VIDEO, ECOMMERCE, MUSIC, NEWS)}

__all__ = ["ECOMMERCE", "MUSIC", "NEWS", "PRESETS", "VIDEO"]
