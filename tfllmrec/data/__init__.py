"""Data layer: interactions, items with text, loaders and splits.

Uses pandas and numpy only (no TensorFlow). Every malformed input raises
`tfllmrec.errors.DataError`, naming the file, line and column, and the fix.

Example (your own files; `load_movielens_100k()` and the other loaders
fetch their dataset from its canonical source, or read `path=`):
>>> _ = open("orders.csv", "w").write("customer,sku\\n" + "".join(f"c{u},p{(u + k) % 5}\\n" for u in range(4) for k in range(5)))
>>> _ = open("products.csv", "w").write("sku,title\\n" + "".join(f"p{i},product {i}\\n" for i in range(5)))
>>> dataset = load_tabular("orders.csv", "products.csv", {"user_id": "customer", "item_id": "sku"}, ["title"])
>>> split = random_split(dataset.interactions, ratios=(0.6, 0.2, 0.2), seed=2020)
>>> split.sizes, dataset.items.texts()[:2].tolist()
((12, 4, 4), ['product 0', 'product 1'])
"""

from tfllmrec.data.amazon_reviews import load_amazon_reviews
from tfllmrec.data.dataset import Dataset
from tfllmrec.data.impression_split import ImpressionSplit, impression_split
from tfllmrec.data.interactions import Interactions
from tfllmrec.data.items import Items
from tfllmrec.data.lastfm import load_lastfm_2k
from tfllmrec.data.letter import load_amazon_scientific
from tfllmrec.data.load_dataset import DATASETS, load_dataset
from tfllmrec.data.mind import load_mind
from tfllmrec.data.nemig import load_nemig
from tfllmrec.data.movielens import load_movielens_100k, load_movielens_latest_small
from tfllmrec.data.rechorus import load_amazon_office
from tfllmrec.data.split import Split
from tfllmrec.data.splits import cold_start_split, leave_one_out, random_split
from tfllmrec.data.tabular import load_tabular

__all__ = [
    "DATASETS",
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
    "load_dataset",
    "load_lastfm_2k",
    "load_movielens_100k",
    "load_movielens_latest_small",
    "load_mind",
    "load_nemig",
    "load_tabular",
    "random_split",
]
