"""Popularity baseline, and the evaluation package's NumPy-only import."""

import subprocess
import sys

import numpy as np
import pytest

from tfllmrec.evaluation import Popularity, RankingEvaluator


def test_most_frequent_item_ranks_first():
    # counts: item 0 -> 2, item 1 -> 1, item 2 -> 3, item 3 -> 0
    pop = Popularity().fit(np.array([2, 0, 2, 1, 2, 0]), num_items=4)
    np.testing.assert_array_equal(pop.counts, [2, 1, 3, 0])
    np.testing.assert_array_equal(pop.top_items(4), [2, 0, 1, 3])
    np.testing.assert_array_equal(pop.top_items(10), [2, 0, 1, 3])  # capped at num_items


def test_ties_broken_by_lower_index_also_in_the_evaluator():
    # items 1 and 3 tie at 2 interactions; item 0 and 4 at 0.
    pop = Popularity().fit(np.array([3, 1, 3, 1, 2]), num_items=5)
    np.testing.assert_array_equal(pop.top_items(3), [1, 3, 2])
    # The evaluator breaks the same ties the same way: item 3 ranks 2nd.
    evaluator = RankingEvaluator(ks=(1, 2), metrics=("hit",))
    result = evaluator.evaluate(pop.score, np.array([0]), [np.array([3])])
    assert result == {"hit@1": 0.0, "hit@2": 1.0}


def test_weights_change_the_order():
    pop = Popularity().fit(np.array([0, 0, 1]), num_items=2, weights=np.array([1.0, 1.0, 5.0]))
    np.testing.assert_array_equal(pop.top_items(1), [1])


def test_score_repeats_one_float32_row_per_user():
    pop = Popularity().fit(np.array([1, 1, 0]), num_items=3)
    scores = pop.score(np.array([5, 9]))
    assert scores.dtype == np.float32 and scores.shape == (2, 3)
    np.testing.assert_array_equal(scores, [[1, 2, 0], [1, 2, 0]])


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        (([0, 4], 4), {}, "outside"),
        (([0, 1], 0), {}, "num_items"),
        (([0, 1], 2), {"weights": [1.0]}, "one weight"),
        (([0, 1], 2), {"weights": [1.0, -1.0]}, ">= 0"),
        (([0.5], 2), {}, "integer"),
    ],
)
def test_fit_errors(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Popularity().fit(*args, **kwargs)


def test_use_before_fit_or_bad_k():
    with pytest.raises(ValueError, match="fit"):
        Popularity().score(np.array([0]))
    with pytest.raises(ValueError, match="k="):
        Popularity().fit(np.array([0]), 1).top_items(0)


def test_package_does_not_import_tensorflow():
    code = (
        "import sys, tfllmrec.evaluation as e; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'; "
        "print(sorted(e.__all__))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    names = ["ImpressionEvaluator", "ItemKNN", "Popularity", "RankingEvaluator", "SampledEvaluator", "SurpriseBaseline",
             "align_queries", "bm25_scores", "choose_blend", "rating_metrics", "search_metrics",
             "surprise_available"]
    assert done.stdout.strip() == str(names)
