"""`Popularity`: the most-popular-items baseline."""

import numbers

import numpy as np

from tfllmrec.evaluation._checks import as_index_array, check_num_items, check_range


class Popularity:
    """Scores every item by its (weighted) number of training interactions.

    Every user gets the same scores, so it is the non-personalised baseline
    any recommender should beat. Its `score` plugs into
    `RankingEvaluator.evaluate` as the score function; equal counts are ranked
    there, and in `top_items`, by lower item index.

    Attributes:
        counts: np.ndarray [num_items] of float64, or None before `fit`.
        num_items: int or None.

    Example:
        >>> import numpy as np
        >>> pop = Popularity().fit(np.array([2, 0, 2, 1, 2, 0]), num_items=4)
        >>> pop.top_items(3)
        array([2, 0, 1])
        >>> pop.score(np.array([7, 8])).shape
        (2, 4)
    """

    def __init__(self):
        self.counts = None
        self.num_items = None

    def fit(self, item_indices, num_items, weights=None):
        """Counts the interactions of each item.

        Args:
            item_indices: np.ndarray [n] of int. The item of each training
                interaction (repeat an item once per interaction).
            num_items: int. Size of the item index; items never seen score 0.
            weights: np.ndarray [n] of float, or None. Non-negative weight of
                each interaction (e.g. a rating) instead of 1.

        Returns:
            self, so `Popularity().fit(...)` chains.

        Raises:
            ValueError: num_items is not a positive int, an index is out of
                range, or weights are misaligned, negative or not finite.
        """
        num_items = check_num_items(num_items)
        items = as_index_array(item_indices, "item_indices")
        check_range(items, num_items, "item_indices")
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float64).ravel()
            if weights.size != items.size:
                raise ValueError(
                    f"weights has {weights.size} entries but item_indices has "
                    f"{items.size}; pass one weight per interaction."
                )
            if not np.isfinite(weights).all() or (weights < 0).any():
                raise ValueError("weights must be finite and >= 0; drop or clip the bad ones.")
        self.counts = np.bincount(items, weights=weights, minlength=num_items).astype(np.float64)
        self.num_items = num_items
        return self

    def score(self, user_batch):
        """Returns the popularity row repeated for each user.

        Args:
            user_batch: np.ndarray [b] of int. Only its length is used.

        Returns:
            np.ndarray [b, num_items] of float32.
        """
        self._check_fitted()
        batch = np.asarray(user_batch).reshape(-1)
        row = self.counts.astype(np.float32)
        return np.repeat(row[None, :], batch.size, axis=0)

    def top_items(self, k):
        """Returns the k most popular item indices, most popular first.

        Args:
            k: int >= 1. Capped at num_items.

        Returns:
            np.ndarray [min(k, num_items)] of int64; ties by lower index.
        """
        self._check_fitted()
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"k={k!r}; pass an int >= 1.")
        # A stable sort on -counts keeps equal counts in index order.
        return np.argsort(-self.counts, kind="stable")[: int(k)].astype(np.int64)

    def _check_fitted(self):
        if self.counts is None:
            raise ValueError(
                "This Popularity is not fitted; call fit(item_indices, num_items) first."
            )
