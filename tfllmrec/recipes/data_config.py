"""`DataConfig`: which dataset a recipe reads and how it is split."""

import dataclasses
from typing import Optional


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Dataset and split settings of a recipe.

    Args:
        dataset: str. A registered loader: "movielens-100k",
            "movielens-latest-small", "lastfm-2k", "amazon-office" (ReChorus
            files), "amazon-scientific" (LETTER files), "amazon-reviews"
            (raw Amazon review + metadata JSON: `interactions` and `items`
            name the two files), "mind", "nemig", or "tabular" (your own
            CSV/Parquet).
        path: str or None. Local folder of the dataset; None downloads it
            from its canonical source (cached under ~/.cache/tfllmrec).
        interactions: str or None. Tabular only: the interactions file.
        items: str or None. Tabular only: the items file.
        columns: dict. Tabular only: our column names to yours, e.g.
            {"user_id": "customer", "item_id": "sku", "timestamp": "ts"}.
        text_fields: tuple of str. Tabular only: item columns used as text.
        split: str. "random" (per user, `ratios`), "leave_one_out" (per
            user, chronological), "predefined" (the split the dataset ships,
            e.g. amazon-office) or "impressions" (news: impressions split
            at random by `ratios` and `split_seed`).
        ratios: tuple of float. Train/valid/test fractions for "random".
        split_seed: int. Seed of the split.
        cold_start_fraction: float. Fraction of items held out entirely for
            the cold-start evaluation; 0 turns it off.

    Example:
    >>> DataConfig(dataset="movielens-100k", split_seed=7).split
    'random'
    """

    dataset: str = "movielens-100k"
    path: Optional[str] = None
    interactions: Optional[str] = None
    items: Optional[str] = None
    columns: dict = dataclasses.field(default_factory=dict)
    text_fields: tuple = ()
    split: str = "random"
    ratios: tuple = (0.8, 0.1, 0.1)
    split_seed: int = 2020
    cold_start_fraction: float = 0.1

    def __post_init__(self):
        splits = ("random", "leave_one_out", "predefined", "impressions")
        if self.split not in splits:
            raise ValueError(f"split={self.split!r}: use one of {', '.join(splits)}.")
        if not 0.0 <= self.cold_start_fraction < 1.0:
            raise ValueError("cold_start_fraction must be in [0, 1).")
