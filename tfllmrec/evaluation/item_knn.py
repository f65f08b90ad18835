"""`ItemKNN`: the item-based neighbourhood baseline for users served from their history."""

import numpy as np

from tfllmrec.evaluation._checks import as_index_array, check_num_items, check_range


class ItemKNN:
    """Scores items by their cosine similarity to the items of a history.

    The classic item-based neighbourhood model (Sarwar et al., WWW 2001;
    Deshpande and Karypis, TOIS 2004): two items are as similar as the
    cosine of their user columns in the binary training matrix, and a
    history's score for an item is the sum of its similarities to the
    history's items. It needs no training beyond counting, so it is the
    reference a model serving new users from their clicks
    (`sequence.held_out_users`) is measured against, beside popularity.
    The arithmetic runs over the training interactions, never a dense
    item-by-item matrix, so any catalogue fits.

    Example:
        >>> import numpy as np
        >>> knn = ItemKNN().fit(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 0, 1, 2]), num_items=3)
        >>> knn.score_histories([[0]]).round(3)
        array([[0., 1., 0.]], dtype=float32)
    """

    def __init__(self):
        self.users = self.items = self.norms = None
        self.num_items = None

    def fit(self, user_indices, item_indices, num_items):
        """Keeps each distinct (user, item) of training and each item's number of users.

        Args:
            user_indices: np.ndarray [n] of int. The user of each interaction.
            item_indices: np.ndarray [n] of int. Its item, below `num_items`.
            num_items: int. Size of the item index.

        Returns:
            self.

        Raises:
            ValueError: the arrays differ in length, an index is out of range
                or num_items is not an int >= 1.
        """
        num_items = check_num_items(num_items)
        users = as_index_array(user_indices, "user_indices")
        items = as_index_array(item_indices, "item_indices")
        if users.size != items.size:
            raise ValueError(f"user_indices has {users.size} entries and item_indices {items.size}; "
                             "pass one user and one item per interaction.")
        check_range(items, num_items, "item_indices")
        if users.size and users.min() < 0:
            raise ValueError(f"user_indices holds {users.min()}; user indices start at 0. Map ids to indices first.")
        cells = np.unique(users * num_items + items)
        self.users, self.items, self.num_items = cells // num_items, cells % num_items, num_items
        self.norms = np.sqrt(np.bincount(self.items, minlength=self.num_items).astype(np.float64))
        return self

    def score_histories(self, histories):
        """`[len(histories), num_items]` float32: each history's summed cosine to every item.

        An item never seen in training scores 0. A history's own items are
        not their own neighbours (self-similarity is left out); a caller
        ranking new items excludes them anyway.

        Raises:
            ValueError: not fitted, or a history holds an index that is not
                an item of `fit`.
        """
        if self.norms is None:
            raise ValueError("This ItemKNN is not fitted; call fit(user_indices, item_indices, num_items) first.")
        inverse = np.divide(1.0, self.norms, out=np.zeros_like(self.norms), where=self.norms > 0)
        scores = np.zeros((len(histories), self.num_items), np.float32)
        for row, history in enumerate(histories):
            items = as_index_array(history, f"histories[{row}]")
            check_range(items, self.num_items, f"histories[{row}]")
            given = np.zeros(self.num_items)
            given[items] = 1.0
            per_user = np.bincount(self.users, weights=(given * inverse)[self.items])
            summed = np.bincount(self.items, weights=per_user[self.users], minlength=self.num_items)
            # Taking out self-similarity can leave -1e-16; no true score is below 0.
            scores[row] = np.maximum((summed - given * self.norms) * inverse, 0.0)
        return scores
