"""ImpressionEvaluator against hand-computed MIND metrics and MIND's own code."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfllmrec.evaluation import ImpressionEvaluator

L3 = 1 / np.log2(3)  # 0.6309

IMPRESSIONS = [
    # A: desc order .8(1) .6(1) .4(0) .1(0). AUC 4/4 = 1; MRR (1/1 + 1/2) / 2 = .75;
    #    clicks at ranks 1, 2 = the ideal order, so nDCG@K = 1.
    ([0.1, 0.8, 0.4, 0.6], [0, 1, 0, 1]),
    # B: desc .9 .7 .5(1) .3 .2. AUC: .5 beats .3, .2, loses to .9, .7 -> 2/4;
    #    MRR 1/3; nDCG@1 = 0, nDCG@3 = nDCG@5 = 1/log2(4) / 1 = .5.
    ([0.9, 0.3, 0.5, 0.2, 0.7], [0, 0, 1, 0, 0]),
    # C: tie. AUC: (tie .5 + beats .2 1) / 2 = .75. MIND orders ties as
    #    argsort(...)[::-1]: the later .5 (not clicked) first, the click at rank
    #    2: MRR 1/2, nDCG@1 = 0, nDCG@3 = 1/log2(3).
    ([0.5, 0.5, 0.2], [1, 0, 0]),
    # D: every candidate clicked: no AUC; MRR (1 + 1/2) / 2 = .75; nDCG = 1.
    ([0.3, 0.1], [True, True]),
    # E: no click: skipped for every metric.
    ([0.3, 0.1, 0.2], [0, 0, 0]),
]


def test_hand_computed_means():
    evaluator = ImpressionEvaluator()
    result = evaluator.evaluate(IMPRESSIONS, ks=(1, 3, 5))
    assert list(result) == ["auc", "mrr", "ndcg@1", "ndcg@3", "ndcg@5"]
    assert evaluator.last_num_impressions == 4  # A, B, C, D
    assert evaluator.last_num_auc_impressions == 3  # A, B, C
    assert result["auc"] == pytest.approx((1 + 0.5 + 0.75) / 3)
    assert result["mrr"] == pytest.approx((0.75 + 1 / 3 + 0.5 + 0.75) / 4)
    assert result["ndcg@1"] == pytest.approx((1 + 0 + 0 + 1) / 4)
    assert result["ndcg@3"] == pytest.approx((1 + 0.5 + L3 + 1) / 4)
    assert result["ndcg@5"] == pytest.approx((1 + 0.5 + L3 + 1) / 4)


def test_single_impressions():
    result = ImpressionEvaluator().evaluate([IMPRESSIONS[1]], ks=(1, 3))
    assert result == pytest.approx({"auc": 0.5, "mrr": 1 / 3, "ndcg@1": 0.0, "ndcg@3": 0.5})


def test_no_auc_impression_gives_nan_auc():
    result = ImpressionEvaluator().evaluate([IMPRESSIONS[3]], ks=(5,))
    assert np.isnan(result["auc"]) and result["mrr"] == pytest.approx(0.75)


def test_generator_and_chunking_give_the_same_result():
    whole = ImpressionEvaluator().evaluate(IMPRESSIONS, ks=(3, 5, 6, 10))
    chunked = ImpressionEvaluator(chunk_items=1).evaluate((pair for pair in IMPRESSIONS), ks=(3, 5, 6, 10))
    assert list(whole) == ["auc", "mrr", "ndcg@3", "ndcg@5", "ndcg@6", "ndcg@10"]
    assert chunked == pytest.approx(whole)


# MIND's evaluate.py (leaderboard), with a stable argsort so ties are defined.
def mind_dcg(y_true, y_score, k):
    order = np.argsort(y_score, kind="stable")[::-1]
    y_true = np.take(y_true, order[:k])
    gains = 2**y_true - 1
    discounts = np.log2(np.arange(len(y_true)) + 2)
    return np.sum(gains / discounts)


def mind_ndcg(y_true, y_score, k):
    return mind_dcg(y_true, y_score, k) / mind_dcg(y_true, y_true, k)


def mind_mrr(y_true, y_score):
    order = np.argsort(y_score, kind="stable")[::-1]
    y_true = np.take(y_true, order)
    return np.sum(y_true / (np.arange(len(y_true)) + 1)) / np.sum(y_true)


def pairwise_auc(y_true, y_score):
    pos, neg = y_score[y_true == 1], y_score[y_true == 0]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@st.composite
def impression_lists(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    out = []
    for _ in range(draw(st.integers(1, 8))):
        size = int(rng.integers(1, 12))
        scores = rng.integers(0, 4, size) / 4.0 if rng.random() < 0.5 else rng.random(size)
        out.append((scores, (rng.random(size) < 0.35).astype(int)))
    if not any(labels.any() for _, labels in out):
        out[0][1][0] = 1
    return out


@settings(max_examples=150, deadline=None)
@given(impression_lists(), st.integers(1, 40))
def test_matches_mind_reference_and_pairwise_auc(impressions, chunk_items):
    ks = (1, 3, 5, 10)
    result = ImpressionEvaluator(chunk_items=chunk_items).evaluate(impressions, ks=ks)
    clicked = [(s, y) for s, y in impressions if y.sum() > 0]
    mixed = [(s, y) for s, y in clicked if y.sum() < y.size]
    assert result["mrr"] == pytest.approx(np.mean([mind_mrr(y, s) for s, y in clicked]))
    for k in ks:
        assert result[f"ndcg@{k}"] == pytest.approx(np.mean([mind_ndcg(y, s, k) for s, y in clicked]))
    if mixed:
        assert result["auc"] == pytest.approx(np.mean([pairwise_auc(y, s) for s, y in mixed]))
    else:
        assert np.isnan(result["auc"])
    assert all(0 <= v <= 1 + 1e-12 for v in result.values() if not np.isnan(v))


@pytest.mark.parametrize(
    "impressions, message",
    [
        ([([0.1, 0.2], [1])], "2 scores and 1 labels"),
        ([([], [])], "0 scores"),
        ([([0.1, 0.2], [1, 2])], "0 or 1"),
        ([([0.1, np.nan], [1, 0])], "NaN"),
        ([([0.1, 0.2], [0, 0])], "No impression has a clicked"),
        ([[0.1, 0.2, 0.3]], "pair"),
    ],
)
def test_user_errors(impressions, message):
    with pytest.raises(ValueError, match=message):
        ImpressionEvaluator().evaluate(impressions)


def test_error_names_the_impression_across_chunks():
    bad = [([0.1, 0.9], [0, 1])] * 3 + [([0.2, 0.3], [0, 5])]
    with pytest.raises(ValueError, match="Impression 3, candidate 1"):
        ImpressionEvaluator(chunk_items=2).evaluate(bad)
