"""RankingEvaluator against metrics computed by hand on tiny examples."""

import numpy as np
import pytest

from tfllmrec.evaluation import RankingEvaluator
from tfllmrec.evaluation._topk import top_k_indices

L3, L4, L5 = 1 / np.log2(3), 1 / np.log2(4), 1 / np.log2(5)  # 0.6309, 0.5, 0.4307

# 6 items. Row 0 ranks items 1, 3, 4, 2, 5, 0 (scores .9 .8 .5 .3 .2 .1).
SCORES = np.array(
    [
        [0.1, 0.9, 0.3, 0.8, 0.5, 0.2],  # user 0
        [0.7, 0.1, 0.2, 0.3, 0.4, 0.5],  # user 1: item 0 ranks first
        [0.6, 0.5, 0.4, 0.3, 0.2, 0.1],  # user 2: item 5 ranks last
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],  # user 3: never has positives
    ],
    dtype=np.float32,
)


def score_fn(users):
    return SCORES[users]


def run(users, positives, ks=(1, 3, 5), **options):
    evaluator = RankingEvaluator(ks=ks)
    positives = [np.array(p) for p in positives]
    result = evaluator.evaluate(score_fn, np.array(users), positives, **options)
    return result, evaluator


def test_multiple_positives_per_cutoff():
    # User 0, positives {3, 2}: item 3 at rank 2, item 2 at rank 4.
    result, _ = run([0], [[3, 2]])
    # K=1: top [1], no hit.
    assert result["recall@1"] == result["precision@1"] == result["hit@1"] == 0
    assert result["mrr@1"] == result["ndcg@1"] == 0
    # K=3: top [1, 3, 4], 1 hit at rank 2.
    assert result["recall@3"] == pytest.approx(1 / 2)
    assert result["precision@3"] == pytest.approx(1 / 3)
    assert result["hit@3"] == 1
    assert result["mrr@3"] == pytest.approx(1 / 2)
    # DCG = 1/log2(3); IDCG = 1/log2(2) + 1/log2(3) (two positives) -> 0.3869
    assert result["ndcg@3"] == pytest.approx(L3 / (1 + L3))
    # K=5: hits at ranks 2 and 4. DCG = 1/log2(3) + 1/log2(5) -> 0.6509
    assert result["recall@5"] == pytest.approx(1.0)
    assert result["precision@5"] == pytest.approx(2 / 5)
    assert result["mrr@5"] == pytest.approx(1 / 2)
    assert result["ndcg@5"] == pytest.approx((L3 + L5) / (1 + L3))


def test_positive_at_rank_one():
    result, _ = run([1], [[0]])
    for k in (1, 3, 5):
        assert result[f"recall@{k}"] == result[f"hit@{k}"] == 1
        assert result[f"mrr@{k}"] == result[f"ndcg@{k}"] == 1
        assert result[f"precision@{k}"] == pytest.approx(1 / k)


def test_no_hit_gives_zero():
    # Item 5 ranks 6th: outside every K <= 5.
    result, _ = run([2], [[5]])
    assert all(value == 0 for value in result.values())


def test_mean_over_users_skips_users_without_positives():
    result, evaluator = run([0, 1, 2, 3], [[3, 2], [0], [5], []])
    assert evaluator.last_num_users == 3  # user 3 has no positives
    # recall@3 = (1/2 + 1 + 0) / 3
    assert result["recall@3"] == pytest.approx(1.5 / 3)
    # ndcg@5 = (0.6509 + 1 + 0) / 3
    assert result["ndcg@5"] == pytest.approx(((L3 + L5) / (1 + L3) + 1) / 3)
    metrics = ("recall", "ndcg", "hit", "mrr", "precision")
    assert list(result) == [f"{m}@{k}" for m in metrics for k in (1, 3, 5)]
    assert all(isinstance(v, float) for v in result.values())


def test_k_larger_than_positives_and_items():
    # 6 items, K=10: the whole list is the top-K; both positives (ranks 2, 4) hit.
    result, _ = run([0], [[3, 2]], ks=(10,))
    assert result["recall@10"] == 1
    assert result["precision@10"] == pytest.approx(2 / 10)  # divides by K, as RecBole
    assert result["mrr@10"] == pytest.approx(1 / 2)
    # IDCG uses min(|P|, K) = 2 ranks.
    assert result["ndcg@10"] == pytest.approx((L3 + L5) / (1 + L3))


def test_excluded_item_that_would_rank_first():
    # Excluding item 1 (score .9): ranking 3, 4, 2, 5, 0, then item 1 at -inf.
    # Positives {3, 2} now at ranks 1 and 3.
    result, _ = run([0], [[3, 2]], exclude=[np.array([1])])
    assert result["recall@1"] == pytest.approx(1 / 2)
    assert result["precision@1"] == 1
    assert result["mrr@1"] == 1
    assert result["ndcg@1"] == 1  # IDCG over min(2, 1) = 1 rank
    assert result["precision@3"] == pytest.approx(2 / 3)
    # DCG = 1 + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) -> 0.9197
    assert result["ndcg@3"] == pytest.approx((1 + L4) / (1 + L3))


def test_exclude_does_not_mutate_caller_scores():
    before = SCORES.copy()
    run([0], [[3]], exclude=[[1, 4]], candidates=np.array([0, 2, 3]))
    np.testing.assert_array_equal(SCORES, before)


def test_candidates_subset():
    # Candidates {0, 2, 4, 5}: positive 3 is dropped, so P = {2}. Ranking among
    # candidates: 4 (.5), 2 (.3), 5 (.2), 0 (.1); item 2 at rank 2.
    result, evaluator = run([0, 1], [[3, 2], [3]], candidates=np.array([5, 0, 4, 2]))
    assert evaluator.last_num_users == 1  # user 1's only positive is not a candidate
    assert result["hit@1"] == 0
    assert result["recall@3"] == 1
    assert result["mrr@3"] == pytest.approx(1 / 2)
    assert result["ndcg@3"] == pytest.approx(L3)  # IDCG = 1 (one positive)
    assert result["precision@5"] == pytest.approx(1 / 5)


def test_fewer_candidates_than_k_never_count_masked_items():
    # Two candidates; the rest fill the top-5 at -inf but are never hits.
    result, _ = run([0], [[4]], candidates=np.array([2, 4]))
    assert result["recall@5"] == 1 and result["precision@5"] == pytest.approx(1 / 5)


def test_ties_broken_by_lower_item_index():
    scores = np.full((1, 4), 0.5, dtype=np.float32)
    evaluator = RankingEvaluator(ks=(2, 3), metrics=("hit", "mrr"))
    # All tied: ranking 0, 1, 2, 3, so item 2 ranks 3rd.
    result = evaluator.evaluate(lambda u: scores[u], np.array([0]), [np.array([2])])
    assert result == {"hit@2": 0.0, "hit@3": 1.0, "mrr@2": 0.0, "mrr@3": pytest.approx(1 / 3)}


def test_top_k_tie_straddling_the_cutoff():
    scores = np.array([[0.1, 0.5, 0.9, 0.5, 0.5], [0.3, 0.3, 0.3, 0.3, 0.3]])
    np.testing.assert_array_equal(top_k_indices(scores, 2), [[2, 1], [0, 1]])
    np.testing.assert_array_equal(top_k_indices(scores, 5), [[2, 1, 3, 4, 0], [0, 1, 2, 3, 4]])


def test_batching_does_not_change_results():
    users, positives = [0, 1, 2, 3], [[3, 2], [0, 4], [5], [1]]
    one, _ = run(users, positives, batch_size=1)
    many, _ = run(users, positives, batch_size=3)
    assert one == pytest.approx(many)


def test_score_fn_sees_only_users_with_positives_in_batches():
    seen = []

    def spy(users):
        seen.append(users.tolist())
        return SCORES[users]

    RankingEvaluator(ks=(1,)).evaluate(spy, np.array([3, 0, 2, 1]), [[], [1], [2], [3]], batch_size=2)
    assert seen == [[0, 2], [1]]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"exclude": [[3]]}, "leaked"),
        ({"positives": [[9]]}, "outside"),
        ({"positives": [[0], [1]]}, "entries"),
        ({"exclude": [[0], [1]]}, "entries"),
        ({"positives": [[0.5]]}, "integer"),
        ({"positives": [[]]}, "No user"),
        ({"candidates": np.array([], dtype=int)}, "empty"),
        ({"candidates": np.array([3, 7])}, "candidates holds item index 7"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_user_errors(kwargs, message):
    call = {"positives": [[3]], **kwargs}
    with pytest.raises(ValueError, match=message):
        RankingEvaluator(ks=(2,)).evaluate(score_fn, np.array([0]), **call)


def test_bad_scores_are_rejected():
    evaluator = RankingEvaluator(ks=(2,))
    with pytest.raises(ValueError, match="shape"):
        evaluator.evaluate(lambda u: SCORES[u][:, None], np.array([0]), [[1]])
    with pytest.raises(ValueError, match="NaN"):
        evaluator.evaluate(lambda u: np.full((len(u), 3), np.nan), np.array([0]), [[1]])
    # The item count is fixed by the first call.
    with pytest.raises(ValueError, match="shape"):
        evaluator.evaluate(lambda u: SCORES[u][:, : 6 - u[0]], np.array([0, 1]), [[1], [1]], batch_size=1)


@pytest.mark.parametrize(
    "kwargs", [{"ks": ()}, {"ks": (0,)}, {"ks": (5, 5)}, {"ks": (2.5,)}, {"metrics": ("auc",)}, {"metrics": ()}]
)
def test_bad_configuration(kwargs):
    with pytest.raises(ValueError):
        RankingEvaluator(**kwargs)


def test_movielens_sized_run_is_fast():
    import time

    rng = np.random.default_rng(0)
    scores = rng.random((943, 1682), dtype=np.float32)
    positives = [rng.choice(1682, 10, replace=False) for _ in range(943)]
    exclude = [np.setdiff1d(rng.choice(1682, 80, replace=False), p) for p in positives]
    start = time.perf_counter()
    result = RankingEvaluator().evaluate(lambda u: scores[u], np.arange(943), positives, exclude=exclude)
    assert time.perf_counter() - start < 1.0
    # Random scores: recall@K is about K / (items left), 10 / 1600.
    assert result["recall@10"] == pytest.approx(10 / 1600, abs=0.004)


def test_duplicate_positives_count_once():
    twice, _ = run([0], [[3, 3, 2]])
    once, _ = run([0], [[3, 2]])
    assert twice == once
