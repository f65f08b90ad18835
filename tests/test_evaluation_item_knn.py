"""ItemKNN: the item-based neighbourhood baseline of the new-user protocol."""

import numpy as np
import pytest

from tfllmrec.evaluation import ItemKNN


def _dense_reference(users, items, num_items, history):
    """Summed cosine between the history's items and every item, from the dense binary matrix."""
    matrix = np.zeros((users.max() + 1, num_items))
    matrix[users, items] = 1
    norms = np.sqrt(matrix.sum(0))
    cosine = (matrix.T @ matrix) / np.maximum(np.outer(norms, norms), 1e-12)
    np.fill_diagonal(cosine, 0)
    return cosine[np.unique(history)].sum(0)


def test_scores_equal_the_summed_cosine_of_the_dense_matrix():
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 30, 400), rng.integers(0, 25, 400)  # repeats count once
    items[items == 24] = 23  # item 24 never seen in training
    histories = [[1, 2, 2, 5], [24], [0, 3, 7, 11, 24]]
    scores = ItemKNN().fit(users, items, num_items=25).score_histories(histories)
    assert scores.shape == (3, 25) and scores.dtype == np.float32
    for row, history in enumerate(histories):
        np.testing.assert_allclose(scores[row], _dense_reference(users, items, 25, history), rtol=1e-5, atol=1e-6)
    assert np.all(scores[1] == 0) and np.all(scores[:, 24] == 0)


def test_a_history_finds_the_items_bought_with_its_own():
    # Users 0-2 buy items 0 and 1 together; users 3-5 buy 2 and 3 together; item 4 is bought by all.
    users = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 0, 1, 2, 3, 4, 5])
    items = np.array([0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 4, 4, 4, 4, 4, 4])
    scores = ItemKNN().fit(users, items, num_items=5).score_histories([[0], [3]])
    # cos(0, 1) = 3 / 3 = 1; cos(0, 4) = 3 / sqrt(3 * 6); items of the other group: 0.
    np.testing.assert_allclose(scores, [[0, 1, 0, 0, 3 / np.sqrt(18)], [0, 0, 1, 0, 3 / np.sqrt(18)]], atol=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda: ItemKNN().fit([0, 1], [0], num_items=3), "one user and one item per interaction"),
    (lambda: ItemKNN().fit([0], [3], num_items=3), "item_indices"),
    (lambda: ItemKNN().fit([-1], [0], num_items=3), "user indices start at 0"),
    (lambda: ItemKNN().fit([0], [0], num_items=0), "num_items=0"),
    (lambda: ItemKNN().fit([0.5], [0], num_items=3), "integer indices"),
    (lambda: ItemKNN().score_histories([[0]]), "not fitted"),
    (lambda: ItemKNN().fit([0], [0], num_items=3).score_histories([[0], [5]]), r"histories\[1\]"),
])
def test_bad_inputs_are_refused_with_the_fix(call, message):
    with pytest.raises(ValueError, match=message):
        call()
