"""SampledEvaluator against hand-computed HR@K and NDCG@K."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfllmrec.evaluation import SampledEvaluator

# TABLE[user, item]: each user's score for each of 5 items.
TABLE = np.array(
    [
        [0.8, 0.9, 0.1, 0.8, 0.3],  # user 0
        [0.95, 0.9, 0.1, 0.2, 0.3],  # user 1
        [0.0, 0.9, 0.1, 0.2, 0.3],  # user 2
    ]
)
USERS = np.array([0, 1, 2])
POSITIVES = np.array([0, 0, 0])
NEGATIVES = np.array([[1, 2, 3, 4]] * 3)


def table_fn(users, items):
    return TABLE[users[:, None], items]


def test_hand_computed_hr_and_ndcg():
    # user 0: positive .8; negatives .9, .1, .8, .3 -> rank = #{s >= .8} = 3
    #         (the tied .8 counts against the positive, as in ReChorus)
    # user 1: positive .95 beats every negative -> rank 1
    # user 2: positive 0.0 is below all four -> rank 5
    evaluator = SampledEvaluator()
    result = evaluator.evaluate(table_fn, USERS, POSITIVES, NEGATIVES, ks=(1, 3, 5))
    assert evaluator.last_num_users == 3
    assert result["hit@1"] == pytest.approx(1 / 3)  # (0 + 1 + 0) / 3
    assert result["hit@3"] == pytest.approx(2 / 3)  # (1 + 1 + 0) / 3
    assert result["hit@5"] == pytest.approx(1.0)
    assert result["ndcg@1"] == pytest.approx(1 / 3)
    # (1/log2(4) + 1/log2(2) + 0) / 3 = (0.5 + 1) / 3
    assert result["ndcg@3"] == pytest.approx(0.5)
    # (0.5 + 1 + 1/log2(6)) / 3 = (1.5 + 0.38685) / 3
    assert result["ndcg@5"] == pytest.approx((1.5 + 1 / np.log2(6)) / 3)
    assert list(result) == ["hit@1", "hit@3", "hit@5", "ndcg@1", "ndcg@3", "ndcg@5"]


def test_positive_is_column_zero_and_batches_split_users():
    calls = []

    def spy(users, items):
        calls.append((users.tolist(), items[:, 0].tolist(), items.shape))
        return table_fn(users, items)

    one = SampledEvaluator().evaluate(spy, USERS, POSITIVES, NEGATIVES, ks=(1, 3), batch_size=2)
    assert calls == [([0, 1], [0, 0], (2, 5)), ([2], [0], (1, 5))]
    assert one == pytest.approx(SampledEvaluator().evaluate(table_fn, USERS, POSITIVES, NEGATIVES, ks=(1, 3)))


def test_all_scores_equal_is_ranked_last():
    flat = lambda users, items: np.zeros(items.shape)  # noqa: E731
    result = SampledEvaluator().evaluate(flat, USERS, POSITIVES, NEGATIVES, ks=(4, 5))
    assert result["hit@4"] == 0 and result["hit@5"] == 1  # rank 1 + 4 for everyone


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 8), st.integers(1, 10), st.integers(0, 2**32 - 1))
def test_matches_per_user_count(num_users, num_negatives, seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, (num_users, 1 + num_negatives)).astype(float)
    negatives = np.tile(np.arange(1, num_negatives + 1), (num_users, 1))
    result = SampledEvaluator().evaluate(
        lambda u, items: scores[u], np.arange(num_users), np.zeros(num_users, int), negatives, ks=(1, 3, 10)
    )
    for k in (1, 3, 10):
        hits = ndcg = 0.0
        for row in scores:
            rank = 1 + sum(1 for s in row[1:] if s >= row[0])
            hits += rank <= k
            ndcg += 1 / np.log2(rank + 1) if rank <= k else 0.0
        assert result[f"hit@{k}"] == pytest.approx(hits / num_users)
        assert result[f"ndcg@{k}"] == pytest.approx(ndcg / num_users)
        assert 0 <= result[f"ndcg@{k}"] <= result[f"hit@{k}"] <= 1


@pytest.mark.parametrize(
    "change, message",
    [
        ({"negatives": np.array([[1, 0, 3, 4]] * 3)}, "among its sampled negatives"),
        ({"positives": np.array([0, 0])}, "align"),
        ({"negatives": np.array([1, 2, 3])}, r"\[n, m\]"),
        ({"users": np.array([], dtype=int)}, "empty"),
        ({"fn": lambda u, items: np.zeros((len(u), 2))}, "shape"),
        ({"fn": lambda u, items: np.full(items.shape, np.nan)}, "NaN"),
    ],
)
def test_user_errors(change, message):
    with pytest.raises(ValueError, match=message):
        SampledEvaluator().evaluate(
            change.get("fn", table_fn),
            change.get("users", USERS),
            change.get("positives", POSITIVES),
            change.get("negatives", NEGATIVES),
        )
