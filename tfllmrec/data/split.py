"""The `Split`: train, validation and test parts of one set of interactions."""

from dataclasses import dataclass, field

import numpy as np

from tfllmrec.data.interactions import Interactions


def _no_items():
    return np.array([], dtype=str)


@dataclass(frozen=True, eq=False)
class Split:
    """Three disjoint parts of the same interactions, made by `tfllmrec.data.splits`.

    Each row of the input is in exactly one part; rows keep their index (the
    source line number for loaded files). `valid` and `test` may be empty,
    e.g. when every user has fewer than 3 interactions under leave-one-out.

    Args:
        train: Interactions.
        valid: Interactions.
        test: Interactions.
        cold_items: np.ndarray of str. Items held out of train and valid by
            `cold_start_split` (sorted); empty for the other splits.

    Example:
    >>> import pandas as pd
    >>> from tfllmrec.data import random_split
    >>> frame = pd.DataFrame({"user_id": ["u1"] * 10 + ["u2"] * 3,
    ...                       "item_id": [f"i{k}" for k in range(13)]})
    >>> split = random_split(Interactions(frame))  # u1: 8/1/1, u2: 1/1/1
    >>> split.sizes
    (9, 2, 2)
    >>> split
    Split(train=9, valid=2, test=2)
    """

    train: Interactions
    valid: Interactions
    test: Interactions
    cold_items: np.ndarray = field(default_factory=_no_items)

    def __post_init__(self):
        for name in ("train", "valid", "test"):
            part = getattr(self, name)
            if not isinstance(part, Interactions):
                raise TypeError(
                    f"Split.{name} must be an Interactions, not {type(part).__name__}. "
                    "Fix: wrap the frame with Interactions(frame, allow_empty=True)."
                )
        # Frozen: bypass __setattr__ to normalise the array once.
        object.__setattr__(self, "cold_items", np.asarray(self.cold_items, dtype=str))

    @property
    def sizes(self):
        """tuple of int: the number of rows in train, valid and test."""
        return len(self.train), len(self.valid), len(self.test)

    def __repr__(self):
        train, valid, test = self.sizes
        cold = f", cold_items={len(self.cold_items)}" if len(self.cold_items) else ""
        return f"Split(train={train}, valid={valid}, test={test}{cold})"
