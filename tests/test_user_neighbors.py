"""User-kNN for the reranker: nearest users against a brute-force cosine, votes against a count."""

import numpy as np
import pytest
import tensorflow as tf

from tfllmrec.models.user_neighbors import nearest_users, neighbor_votes


def _histories(seed=0, users=30, items=25):
    rng = np.random.default_rng(seed)
    # Repeats inside a history count once, and some users have none.
    return [list(rng.integers(0, items, rng.integers(0, 12))) for _ in range(users)]


def _cosines(histories, items):
    matrix = np.zeros((len(histories), items))
    for user, history in enumerate(histories):
        matrix[user, history] = 1
    norms = np.sqrt(np.maximum(matrix.sum(1), 1))
    similar = matrix @ matrix.T / norms[:, None] / norms[None, :]
    np.fill_diagonal(similar, 0)
    return similar


@pytest.mark.parametrize("batch", [7, 256])
def test_nearest_users_are_the_highest_cosines_of_the_item_sets(batch):
    histories, k = _histories(), 4
    ids, cosines = nearest_users(histories, 32, 25, k, batch=batch)  # users 30 and 31: no history
    similar = _cosines(histories + [[], []], 25)
    assert ids.shape == cosines.shape == (32, k) and ids.dtype == np.int32
    for user in range(32):
        want = np.sort(similar[user])[::-1][:k]
        want = want[want > 0]
        np.testing.assert_allclose(cosines[user, :len(want)], want, atol=1e-6)
        assert (ids[user, len(want):] == -1).all() and (cosines[user, len(want):] == 0).all()
        kept = ids[user, :len(want)]
        assert user not in kept
        np.testing.assert_allclose(similar[user, kept], want, atol=1e-6)
    assert (ids[30:] == -1).all() and (ids[:30] >= 0).sum() > 60


def test_fewer_users_than_neighbors_and_no_neighbors_asked():
    ids, cosines = nearest_users([[0, 1], [1]], num_users=2, num_items=3, k=5)
    assert ids.tolist() == [[1, -1, -1, -1, -1], [0, -1, -1, -1, -1]]
    np.testing.assert_allclose(cosines[:, 0], 1 / np.sqrt(2), atol=1e-6)
    with pytest.raises(ValueError, match="k=0"):
        nearest_users([[0]], 1, 1, 0)


def test_votes_sum_the_weights_of_the_neighbors_holding_each_candidate():
    rng = np.random.default_rng(1)
    held = rng.integers(-1, 9, (12, 6)).astype(np.int32)  # -1: padding
    ids = rng.integers(-1, 12, (5, 4)).astype(np.int32)
    weights = rng.uniform(0.1, 1, (5, 4)).astype(np.float32)
    candidates = rng.integers(-1, 9, (5, 7)).astype(np.int32)
    want = np.array([[0.0 if c < 0 else sum(w for v, w in zip(ids[b], weights[b]) if v >= 0 and c in held[v])
                      for c in candidates[b]] for b in range(5)])
    assert want.max() > 0 and (want == 0).any()
    got = neighbor_votes(tf.constant(ids), tf.constant(weights), tf.constant(held), tf.constant(candidates))
    np.testing.assert_allclose(got.numpy(), want, atol=1e-5)
