"""`DataConfig`: which dataset a recipe reads and how it is split."""

import dataclasses
from typing import Optional

from tfllmrec.ranges import SEED, Range, check_fields, check_shares

SPLITS = ("random", "leave_one_out", "predefined", "impressions")
RANGES = {
    "split_seed": SEED,
    "cold_start_fraction": Range(float, 0, 1, high_open=True, example=0.1, meaning="0: off"),
    "held_out_tags": Range(int, 0, example=200, meaning="0: off"),
}


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
        users: str or None. Tabular only: a users file (one row per user,
            its id column named as `columns["user_id"]`), whose
            `user_fields` make each user's profile text (`ranking.user_profile`).
        user_fields: tuple of str. Tabular only: the users file's columns
            joined into a user's profile.
        split: str. "random" (per user, `ratios`), "leave_one_out" (per
            user, chronological), "predefined" (the split the dataset ships,
            e.g. amazon-office) or "impressions" (news: impressions split
            at random by `ratios` and `split_seed`).
        ratios: tuple of float. Train/valid/test fractions for "random".
        split_seed: int. Seed of the split.
        cold_start_fraction: float. Fraction of items held out entirely for
            the cold-start evaluation; 0 turns it off.
        held_out_tags: int. lastfm-2k only: leave this many tags out of the
            artists' texts, the queries of the free-text search benchmark
            (`tfllmrec.data.lastfm.tag_queries`, benchmarks/text_search.py);
            0 keeps every tag.

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
    users: Optional[str] = None
    user_fields: tuple = ()
    split: str = "random"
    ratios: tuple = (0.8, 0.1, 0.1)
    split_seed: int = 2020
    cold_start_fraction: float = 0.1
    held_out_tags: int = 0

    def __post_init__(self):
        if self.split not in SPLITS:
            raise ValueError(f"split={self.split!r}: use one of {', '.join(SPLITS)}.")
        check_fields(self, RANGES)
        if (self.users or self.user_fields) and self.dataset != "tabular":
            raise ValueError(f"data.users and data.user_fields name your own users file (data.dataset=tabular), "
                             f"and data.dataset is {self.dataset!r} (its loader reads the dataset's own users "
                             "file, if it has one). Fix: leave them out.")
        if bool(self.users) != bool(self.user_fields):
            given, missing = ("users", "user_fields") if self.users else ("user_fields", "users")
            raise ValueError(f"data.{given} is set and data.{missing} is not: a users file needs the columns "
                             "that make a profile. Fix: `--set data.users=users.csv "
                             "--set data.user_fields=[age, occupation]`, or neither.")
        if self.held_out_tags and self.dataset != "lastfm-2k":
            raise ValueError(f"data.held_out_tags={self.held_out_tags} holds out Last.fm tags, and "
                             f"data.dataset is {self.dataset!r}. Fix: `--set data.held_out_tags=0`, or "
                             "use it with data.dataset=lastfm-2k (the music recipe).")
        # The ratios cut the data where a split draws at random (the cold-start
        # split's warm part too); validation picks the best epoch, test is reported.
        drawn = self.split in ("random", "impressions") or self.cold_start_fraction > 0
        check_shares(self.ratios, "ratios", positive=("train", "valid", "test") if drawn else ("train",),
                     example="`--set data.ratios=[0.8, 0.1, 0.1]`")
