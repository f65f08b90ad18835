"""EASE's item-to-item weights (`tfllmrec.models.item_regression`) against the
closed form in NumPy, and the reranker's `ease_score` feature that reads them."""

import json

import numpy as np
import pytest
import tensorflow as tf

from testing import TINY_ITEMS, TINY_TEXT, TINY_TWO_TOWER, TINY_USERS
from tfllmrec.models import CandidateReranker, TwoTowerRetrieval
from tfllmrec.models.item_regression import PADDING_KEY, ease_items, ease_weights, padded_ease_weights
from tfllmrec.recipes.ranking_config import RankingConfig

RNG = np.random.default_rng(0)
NUM_ITEMS = 30
# 200 users holding 2-9 of 30 items; item 29 is held by nobody, item 28 by one user.
HISTORIES = [list(RNG.choice(28, RNG.integers(2, 10), replace=False)) for _ in range(199)] + [[28, 0]]


def _dense_ease(histories, items, l2):
    """EASE's closed form (Steck 2019) over `items`: B[j, i] for j, i in `items`."""
    matrix = np.zeros((len(histories), len(items)))
    column = {item: c for c, item in enumerate(items)}
    for user, history in enumerate(histories):
        for item in history:
            if item in column:
                matrix[user, column[item]] = 1.0
    inverse = np.linalg.inv(matrix.T @ matrix + l2 * np.eye(len(items)))
    weights = -inverse / np.diag(inverse)
    np.fill_diagonal(weights, 0.0)
    return weights


def _as_dense(keys, weights, items):
    dense = np.zeros((NUM_ITEMS, NUM_ITEMS))
    real = keys != PADDING_KEY
    dense.reshape(-1)[keys[real]] = weights[real]
    return dense[np.ix_(items, items)]


def test_the_weights_are_eases_closed_form_over_the_items_two_users_hold():
    items = ease_items(HISTORIES, NUM_ITEMS)
    assert items.tolist() == list(range(28))  # 28: one holder, 29: none
    keys, weights = ease_weights(HISTORIES, NUM_ITEMS, l2=5.0, per_item=100)
    assert (np.diff(keys) > 0).all()
    np.testing.assert_allclose(_as_dense(keys, weights, items), _dense_ease(HISTORIES, items, 5.0), atol=1e-6)


def test_each_item_keeps_its_largest_weights_and_at_most_max_items_take_part():
    full = _dense_ease(HISTORIES, ease_items(HISTORIES, NUM_ITEMS), 5.0)
    keys, weights = ease_weights(HISTORIES, NUM_ITEMS, l2=5.0, per_item=4)
    assert len(keys) == 28 * 4 and len(np.unique(keys // NUM_ITEMS)) == 28
    for source in range(28):
        mine = np.sort(np.abs(weights[keys // NUM_ITEMS == source]))
        np.testing.assert_allclose(mine, np.sort(np.abs(full[source]))[-4:], atol=1e-6)
    holders = np.bincount(np.concatenate(HISTORIES), minlength=NUM_ITEMS)
    popular = ease_items(HISTORIES, NUM_ITEMS, max_items=5)
    assert len(popular) == 5 and holders[popular].min() >= np.sort(holders)[-5]
    keys, _ = ease_weights(HISTORIES, NUM_ITEMS, l2=5.0, max_items=5)
    assert set(np.unique(keys // NUM_ITEMS)) == set(popular) and len(keys) == 5 * 4


def test_padding_fills_the_fixed_size_after_every_real_key():
    keys, weights = padded_ease_weights(HISTORIES, NUM_ITEMS, 5.0, max_items=40, per_item=3)
    assert keys.shape == weights.shape == (120,)
    assert (np.diff(keys) >= 0).all() and (keys[28 * 3:] == PADDING_KEY).all() and (weights[28 * 3:] == 0).all()
    # Too few items with two holders: one placeholder weight of 0.
    keys, weights = ease_weights([[0, 1], [2]], 3, l2=1.0)
    assert keys.tolist() == [0] and weights.tolist() == [0.0]


def test_a_non_positive_l2_is_refused():
    with pytest.raises(ValueError, match="positive L2 weight"):
        ease_weights(HISTORIES, NUM_ITEMS, l2=0.0)
    with pytest.raises(ValueError, match=r"ease_l2.*objective=rerank"):
        RankingConfig(ease_l2=10.0)
    with pytest.raises(ValueError, match="ease_l2"):
        RankingConfig(objective="rerank", baselines=(), ease_l2=-1.0)


USER_HISTORIES = [[0, 1, 2], [1, 2, 3], [0, 2], [3, 4, 1], [2, 3, 4, 0], [1, 4]]
CANDIDATES = tf.constant([[0, 3, 4, 5], [0, 4, 5, 6], [1, 3, 4, 7], [0, 2, 5, 6], [1, 5, 6, 7], [0, 2, 3, 5]])


def _retrieval():
    tf.keras.utils.set_random_seed(0)
    model = TwoTowerRetrieval(**TINY_TWO_TOWER)
    model.set_training_data(np.ones(TINY_ITEMS), USER_HISTORIES, TINY_TEXT)
    return model


def _reranker(histories, recent=3, l2=2.0):
    tf.keras.utils.set_random_seed(0)
    model = CandidateReranker(num_users=TINY_USERS, num_items=TINY_ITEMS, embedding_dim=TINY_TWO_TOWER["embedding_dim"],
                              recent_items=recent, ease_items=6, ease_l2=l2)
    model.set_item_statistics(np.ones(TINY_ITEMS))
    model.follow(_retrieval(), histories)
    return model


def _expected_scores(histories, fitted_on, recent, l2):
    items = ease_items(fitted_on, TINY_ITEMS)
    dense = np.zeros((TINY_ITEMS, TINY_ITEMS))
    dense[np.ix_(items, items)] = _dense_ease(fitted_on, items, l2)
    return np.array([[sum(dense[j, c] for j in history[-recent:]) for c in row]
                     for history, row in zip(histories, CANDIDATES.numpy())])


def test_the_ease_feature_sums_the_weights_from_the_users_latest_items():
    model = _reranker(USER_HISTORIES, recent=2)
    assert "ease_score" in model.feature_names
    values = model.features(tf.range(TINY_USERS), CANDIDATES).numpy()[..., model.feature_names.index("ease_score")]
    expected = _expected_scores(USER_HISTORIES, USER_HISTORIES, recent=2, l2=2.0)
    assert np.abs(expected).max() > 0.05
    np.testing.assert_allclose(values, expected, atol=1e-5)
    unknown = model.features(tf.constant([-1]), CANDIDATES[:1]).numpy()[..., model.feature_names.index("ease_score")]
    np.testing.assert_array_equal(unknown, 0.0)


def test_follow_refits_the_weights_to_the_histories_it_is_given():
    model = _reranker(USER_HISTORIES)
    later = [history + [(history[-1] + 2) % 5] for history in USER_HISTORIES]
    model.follow(_retrieval(), later)
    values = model.features(tf.range(TINY_USERS), CANDIDATES).numpy()[..., model.feature_names.index("ease_score")]
    np.testing.assert_allclose(values, _expected_scores(later, later, recent=3, l2=2.0), atol=1e-5)
    assert not np.allclose(values, _expected_scores(later, USER_HISTORIES, recent=3, l2=2.0), atol=1e-3)


def test_ease_survives_the_config_round_trip():
    model = _reranker(USER_HISTORIES)
    model.set_standardization(np.arange(TINY_USERS), CANDIDATES.numpy())
    expected = model.score_candidates(tf.range(TINY_USERS), CANDIDATES).numpy()
    clone = CandidateReranker.from_config(json.loads(json.dumps(model.get_config())))
    assert clone.get_config() == model.get_config() and (clone.ease_items, clone.ease_l2) == (6, 2.0)
    clone.score_candidates(tf.range(TINY_USERS), CANDIDATES)  # builds the scorer's layers
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.score_candidates(tf.range(TINY_USERS), CANDIDATES).numpy(), expected, atol=1e-6)
