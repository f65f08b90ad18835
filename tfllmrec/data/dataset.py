"""The `Dataset`: interactions plus the catalogue of the items they refer to."""

import numpy as np

from tfllmrec.data._files import place
from tfllmrec.data.interactions import Interactions
from tfllmrec.data.items import Items
from tfllmrec.data.user_profiles import UserProfiles
from tfllmrec.errors import DataError


class Dataset:
    """Interactions and items, checked to agree.

    Every interaction's item must be in the items table. Items without any
    interaction are fine (they can still be recommended, e.g. cold items).

    Some published datasets come with more than interactions; a loader
    passes those along so recipes can use the published protocol:

    Args:
        name: str. A short name, e.g. "ml-100k".
        interactions: Interactions.
        items: Items.
        split: Split or None. The dataset's own train/valid/test split
            (e.g. ReChorus' leave-one-out files); recipes use it with
            `data.split=predefined`.
        negatives: dict or None. Sampled negatives shipped with the data:
            {"valid"|"test": DataFrame with columns user_id, item_id (the
            positive) and negatives (list of item ids)}.
        histories: dict or None. user_id -> list of item ids (oldest
            first), a fixed click history given by the data (MIND, NeMig).
        impressions: pandas.DataFrame or None. One row per impression:
            impression_id, user_id, candidates (list of item ids), labels
            (list of 0/1), and timestamp when the data has one.
        users: UserProfiles or None. A profile text per user (MovieLens'
            age, gender and occupation), read by the rating model.

    Attributes:
        name, interactions, items, split, negatives, histories, impressions,
            users: as given.

    Raises:
        DataError: interactions refer to items missing from `items`; the
            message counts them and names the first 5 with their rows.

    Example:
    >>> import pandas as pd
    >>> clicks = pd.DataFrame({"user_id": ["u1", "u1", "u2"], "item_id": ["i1", "i2", "i1"]})
    >>> catalogue = pd.DataFrame({"item_id": ["i1", "i2", "i3"],
    ...                           "title": ["Red pen", "Blue ink", "Notebook"]})
    >>> dataset = Dataset("toy", Interactions(clicks), Items(catalogue, ["title"]))
    >>> dataset
    Dataset('toy': 3 interactions, 2 users, 3 items)
    >>> dataset.items.texts(dataset.interactions.items).tolist()
    ['Red pen', 'Blue ink']
    """

    def __init__(self, name, interactions, items, split=None, negatives=None, histories=None,
                 impressions=None, users=None):
        if not isinstance(interactions, Interactions):
            raise TypeError(
                f"Dataset needs an Interactions, not {type(interactions).__name__}. "
                "Fix: wrap the frame with Interactions(frame)."
            )
        if not isinstance(items, Items):
            raise TypeError(
                f"Dataset needs an Items, not {type(items).__name__}. Fix: wrap "
                "the frame with Items(frame, text_fields=[...])."
            )
        frame = interactions.frame
        unknown = ~frame["item_id"].isin(items.ids).to_numpy()
        if unknown.any():
            rows = frame[unknown]
            shown = ", ".join(
                f"{item!r} ({place(frame.index.name, _plain(label))})"
                for label, item in zip(rows.index[:5], rows["item_id"].iloc[:5])
            )
            distinct = rows["item_id"].nunique()
            raise DataError(
                f"{interactions.source}: {int(unknown.sum())} interaction(s) "
                f"refer to {distinct} item id(s) missing from the items table "
                f"({items.source}); the first: {shown}. Fix: add them to the "
                "items file or drop those rows."
            )
        if users is not None and not isinstance(users, UserProfiles):
            raise TypeError(f"Dataset's users must be a UserProfiles, not {type(users).__name__}. "
                            "Fix: wrap the frame with UserProfiles(frame, text_fields=[...]).")
        self.name = str(name)
        self.interactions = interactions
        self.items = items
        self.split = split
        self.negatives = negatives
        self.histories = histories
        self.impressions = impressions
        self.users = users

    def __repr__(self):
        return (
            f"Dataset({self.name!r}: {len(self.interactions)} interactions, "
            f"{len(self.interactions.users)} users, {len(self.items)} items)"
        )


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
