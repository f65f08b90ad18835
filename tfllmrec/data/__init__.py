"""Data layer: interactions, items with text, loaders and splits.

Uses pandas and numpy only (no TensorFlow). Every malformed input raises
`tfllmrec.errors.DataError`, naming the file, line and column, and the fix.

Example:
>>> from tfllmrec.data import load_movielens_100k, random_split
>>> dataset = load_movielens_100k()
>>> split = random_split(dataset.interactions, ratios=(0.8, 0.1, 0.1), seed=2020)
>>> texts = dataset.items.texts(split.test.items)
"""

from tfllmrec.data.amazon_reviews import load_amazon_reviews
from tfllmrec.data.dataset import Dataset
from tfllmrec.data.impression_split import ImpressionSplit, impression_split
from tfllmrec.data.interactions import Interactions
from tfllmrec.data.items import Items
from tfllmrec.data.lastfm import load_lastfm_2k
from tfllmrec.data.letter import load_amazon_scientific
from tfllmrec.data.mind import load_mind
from tfllmrec.data.nemig import load_nemig
from tfllmrec.data.movielens import load_movielens_100k, load_movielens_latest_small
from tfllmrec.data.rechorus import load_amazon_office
from tfllmrec.data.split import Split
from tfllmrec.data.splits import cold_start_split, leave_one_out, random_split
from tfllmrec.data.tabular import load_tabular

__all__ = [
    "Dataset",
    "Interactions",
    "ImpressionSplit",
    "Items",
    "Split",
    "cold_start_split",
    "impression_split",
    "leave_one_out",
    "load_amazon_office",
    "load_amazon_reviews",
    "load_amazon_scientific",
    "load_lastfm_2k",
    "load_movielens_100k",
    "load_movielens_latest_small",
    "load_mind",
    "load_nemig",
    "load_tabular",
    "random_split",
]
