"""Property tests: RankingEvaluator against a brute-force per-user reference."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfllmrec.evaluation import RankingEvaluator
from tfllmrec.evaluation import _topk
from tfllmrec.evaluation._topk import top_k_indices

METRICS = ("recall", "ndcg", "hit", "mrr", "precision")
SETTINGS = settings(max_examples=150, deadline=None)


@st.composite
def problems(draw, ties=True):
    """Random users x items scores with positives, exclusions and candidates."""
    num_users = draw(st.integers(1, 6))
    num_items = draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if ties and draw(st.booleans()):
        scores = rng.integers(0, 3, (num_users, num_items)).astype(np.float32)
    else:
        # Distinct within each row: a shuffled ramp, so no ties at all.
        scores = np.stack([rng.permutation(num_items) for _ in range(num_users)]).astype(np.float32)
    positives, exclude = [], []
    for _ in range(num_users):
        chosen = rng.random(num_items)
        positives.append(np.flatnonzero(chosen < 0.3))
        exclude.append(np.flatnonzero(chosen > 0.7))
    if not any(p.size for p in positives):
        positives[0] = np.array([num_items - 1])
        exclude[0] = exclude[0][exclude[0] != num_items - 1]
    use_exclude = draw(st.booleans())
    candidates = None
    if draw(st.booleans()):
        candidates = np.flatnonzero(rng.random(num_items) < 0.7)
        if not any(np.isin(p, candidates).any() for p in positives):
            candidates = np.union1d(candidates, positives[int(np.argmax([p.size for p in positives]))])
    ks = tuple(sorted(draw(st.sets(st.integers(1, num_items + 3), min_size=1, max_size=4))))
    return scores, positives, exclude if use_exclude else None, candidates, ks


def reference(scores, positives, exclude, candidates, ks):
    """Per-user loop over a full sort by (-score, item index)."""
    num_items = scores.shape[1]
    totals, users = {f"{m}@{k}": 0.0 for m in METRICS for k in ks}, 0
    for u, pos in enumerate(positives):
        s = scores[u].astype(np.float64)
        if exclude is not None:
            s[exclude[u]] = -np.inf
        relevant = set(pos.tolist())
        if candidates is not None:
            s[np.setdiff1d(np.arange(num_items), candidates)] = -np.inf
            relevant &= set(candidates.tolist())
        if not relevant:
            continue
        users += 1
        ranking = sorted(range(num_items), key=lambda i: (-s[i], i))
        for k in ks:
            hits = [item in relevant for item in ranking[:k]]
            totals[f"recall@{k}"] += sum(hits) / len(relevant)
            totals[f"precision@{k}"] += sum(hits) / k
            totals[f"hit@{k}"] += float(any(hits))
            totals[f"mrr@{k}"] += 1 / (hits.index(True) + 1) if any(hits) else 0.0
            dcg = sum(1 / math.log2(r + 2) for r, h in enumerate(hits) if h)
            idcg = sum(1 / math.log2(r + 2) for r in range(min(len(relevant), k)))
            totals[f"ndcg@{k}"] += dcg / idcg
    return {key: value / users for key, value in totals.items()}


def evaluate(scores, positives, exclude, candidates, ks, batch_size=2):
    return RankingEvaluator(ks=ks, metrics=METRICS).evaluate(
        lambda u: scores[u],
        np.arange(scores.shape[0]),
        positives,
        exclude=exclude,
        candidates=candidates,
        batch_size=batch_size,
    )


@SETTINGS
@given(problems())
def test_matches_brute_force_reference(problem):
    result = evaluate(*problem)
    expected = reference(*problem)
    assert result.keys() == expected.keys()
    for key in expected:
        assert result[key] == pytest.approx(expected[key], abs=1e-9), key


@SETTINGS
@given(problems())
def test_metrics_are_in_unit_interval(problem):
    assert all(0.0 <= value <= 1.0 + 1e-12 for value in evaluate(*problem).values())


@SETTINGS
@given(problems(ties=False), st.integers(0, 2**32 - 1))
def test_permuting_items_leaves_metrics_unchanged(problem, seed):
    scores, positives, exclude, candidates, ks = problem
    perm = np.random.default_rng(seed).permutation(scores.shape[1])  # item i becomes perm[i]
    permuted_scores = np.empty_like(scores)
    permuted_scores[:, perm] = scores
    permuted = evaluate(
        permuted_scores,
        [perm[p] for p in positives],
        None if exclude is None else [perm[e] for e in exclude],
        None if candidates is None else perm[candidates],
        ks,
    )
    assert permuted == pytest.approx(evaluate(*problem))


@SETTINGS
@given(problems())
def test_recall_and_hit_do_not_decrease_with_k(problem):
    scores, positives, exclude, candidates, _ = problem
    ks = tuple(range(1, scores.shape[1] + 3))
    result = evaluate(scores, positives, exclude, candidates, ks)
    for metric in ("recall", "hit"):
        values = [result[f"{metric}@{k}"] for k in ks]
        assert all(a <= b + 1e-12 for a, b in zip(values, values[1:])), metric


@SETTINGS
@given(st.integers(1, 5), st.integers(1, 40), st.integers(0, 2**32 - 1), st.data())
def test_top_k_matches_full_lexsort_also_when_chunked(rows, columns, seed, data):
    rng = np.random.default_rng(seed)
    scores = rng.integers(-1, 3, (rows, columns)).astype(np.float64)
    scores[scores < 0] = -np.inf
    k = data.draw(st.integers(1, columns))
    expected = np.stack([np.lexsort((np.arange(columns), -row))[:k] for row in scores])
    np.testing.assert_array_equal(top_k_indices(scores, k), expected)
    saved = _topk._CHUNK_ELEMENTS
    _topk._CHUNK_ELEMENTS = columns * 2  # two rows per chunk
    try:
        np.testing.assert_array_equal(top_k_indices(scores, k), expected)
    finally:
        _topk._CHUNK_ELEMENTS = saved
