"""Property tests (hypothesis) of the splits and of `IndexedSplit.targets`.

Generated interaction tables are small: a few users and items, repeated
(user, item) pairs, tied timestamps, and an index of file line numbers with
gaps (as a loader leaves after blank lines). Every property is checked
against a brute-force reading of the string-level frames, not against the
library's own helpers. The metric properties here go end to end (split ->
IndexedSplit.targets -> RankingEvaluator); the evaluator's own properties are
in test_evaluation_ranking_properties.py.
"""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from tfllmrec.data import Interactions, Items, cold_start_split, leave_one_out, random_split
from tfllmrec.errors import DataError
from tfllmrec.evaluation import RankingEvaluator
from tfllmrec.tasks import IndexedSplit

SETTINGS = settings(max_examples=60, deadline=None)
PARTS = ("train", "valid", "test")


@st.composite
def tables(draw, max_users=6, min_items=1, max_items=8, min_rows=1, max_rows=40):
    """An Interactions of random users, items and (often tied) timestamps."""
    num_users = draw(st.integers(1, max_users))
    num_items = draw(st.integers(min_items, max_items))
    rows = draw(st.integers(min_rows, max_rows))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    users = rng.integers(0, num_users, rows)
    items = rng.integers(0, num_items, rows)
    timestamps = 1_600_000_000 + rng.integers(0, draw(st.sampled_from([1, 3, 1000])), rows)
    # Line numbers: the header is line 1, and blank lines leave gaps.
    lines = 2 + np.cumsum(rng.integers(1, 3, rows)) - 1
    frame = pd.DataFrame({"user_id": [f"u{u}" for u in users],
                          "item_id": [f"i{i}" for i in items],
                          "timestamp": timestamps},
                         index=pd.Index(lines, name="line"))
    return Interactions(frame, source="generated.csv")


@st.composite
def ratio_triples(draw, min_test=0):
    """Train > 0, valid and test >= 0, summing to 1 (RecBole's default among them)."""
    if draw(st.booleans()):
        return (0.8, 0.1, 0.1)
    train, valid = draw(st.integers(1, 10)), draw(st.integers(0, 5))
    test = draw(st.integers(min_test, 5))
    total = train + valid + test
    return (train / total, valid / total, test / total)


def recbole_counts(n, ratios):
    """RecBole 1.2.1's per-user part sizes (Dataset._calcu_split_ids), written out."""
    counts = [int(r * n) for r in ratios]
    counts[0] = n - sum(counts[1:])
    for i in range(1, len(ratios)):
        if counts[0] <= 1:
            break
        if 0 < ratios[-i] * n < 1:
            counts[-i] += 1
            counts[0] -= 1
    return counts


def labels(split):
    return [list(getattr(split, part).frame.index) for part in PARTS]


def assert_partition(interactions, split):
    """Every row in exactly one part, unchanged, each part in input order."""
    frame = interactions.frame
    parts = labels(split)
    everything = [label for part in parts for label in part]
    assert sorted(everything) == sorted(frame.index) and len(set(everything)) == len(frame)
    position = {label: i for i, label in enumerate(frame.index)}
    for part_name, part in zip(PARTS, parts):
        assert [position[label] for label in part] == sorted(position[label] for label in part)
        pd.testing.assert_frame_equal(getattr(split, part_name).frame, frame.loc[part])


def rows_per_user(frame):
    return frame.groupby("user_id").size().to_dict()


# Splits ---------------------------------------------------------------------------

@SETTINGS
@given(tables(), ratio_triples(), st.integers(0, 2**31 - 1))
def test_random_split_partitions_rows_with_recbole_sizes(interactions, ratios, seed):
    split = random_split(interactions, ratios=ratios, seed=seed)
    assert_partition(interactions, split)
    assert len(split.cold_items) == 0
    sizes = [rows_per_user(getattr(split, part).frame) for part in PARTS]
    for user, n in rows_per_user(interactions.frame).items():
        got = [size.get(user, 0) for size in sizes]
        assert got == recbole_counts(n, ratios), (user, n, ratios)
    # A user in valid or test always keeps training history.
    train_users = set(split.train.frame["user_id"])
    assert set(split.valid.frame["user_id"]) | set(split.test.frame["user_id"]) <= train_users
    again = random_split(Interactions(interactions.frame.copy(), "copy.csv"), ratios, seed)
    assert labels(again) == labels(split)  # the same rows and seed: the same split


@SETTINGS
@given(tables())
def test_leave_one_out_holds_out_each_users_latest_rows(interactions):
    split = leave_one_out(interactions)
    assert_partition(interactions, split)
    frame = interactions.frame
    test, valid = set(split.test.frame.index), set(split.valid.frame.index)
    for user, rows in frame.groupby("user_id", sort=False):
        # Latest last; of two rows at the same time the later row is later.
        order = sorted(range(len(rows)), key=lambda i: (rows["timestamp"].iloc[i], i))
        chronological = [rows.index[i] for i in order]
        if len(rows) < 3:
            assert not (set(chronological) & (test | valid))
        else:
            assert {label for label in chronological if label in test} == {chronological[-1]}
            assert {label for label in chronological if label in valid} == {chronological[-2]}
    assert labels(leave_one_out(interactions)) == labels(split)


@SETTINGS
@given(tables(min_items=2, max_items=12, min_rows=6),
       st.one_of(st.sampled_from([0.2, 0.3, 0.5, 0.7]), st.floats(0.05, 0.95)), ratio_triples(),
       st.integers(0, 2**31 - 1))
def test_cold_start_split_keeps_cold_items_out_of_training(interactions, fraction, ratios, seed):
    items = sorted(set(interactions.frame["item_id"]))
    n_cold = math.floor(fraction * len(items) + 0.5)
    if not 0 < n_cold < len(items):
        event("fraction rounds to no cold item or to every item")
        with pytest.raises(DataError, match="item_fraction"):
            cold_start_split(interactions, item_fraction=fraction, seed=seed, ratios=ratios)
        return
    split = cold_start_split(interactions, item_fraction=fraction, seed=seed, ratios=ratios)
    assert_partition(interactions, split)
    cold = split.cold_items.tolist()
    assert len(cold) == n_cold and cold == sorted(set(cold)) and set(cold) <= set(items)
    for part in (split.train, split.valid):
        assert not set(part.frame["item_id"]) & set(cold)
    frame = interactions.frame
    is_cold = frame["item_id"].isin(cold)
    assert set(frame.index[is_cold]) <= set(split.test.frame.index)
    # The warm rows are split per user by RecBole's rule, like random_split.
    warm = frame[~is_cold]
    sizes = [rows_per_user(getattr(split, part).frame.loc[lambda f: ~f["item_id"].isin(cold)])
             for part in PARTS]
    for user, n in rows_per_user(warm).items():
        assert [size.get(user, 0) for size in sizes] == recbole_counts(n, ratios)
    again = cold_start_split(interactions, item_fraction=fraction, seed=seed, ratios=ratios)
    assert labels(again) == labels(split) and again.cold_items.tolist() == cold


# IndexedSplit.targets ---------------------------------------------------------------

def catalogue(interactions, extra, order_seed=None):
    """Items: every interacted item plus `extra` never-seen ones, in a given order."""
    ids = sorted(set(interactions.frame["item_id"])) + [f"new{k}" for k in range(extra)]
    if order_seed is not None:
        ids = list(np.random.default_rng(order_seed).permutation(ids))
    return Items(pd.DataFrame({"item_id": ids, "title": [f"title of {i}" for i in ids]}), ["title"])


@st.composite
def splits(draw):
    # Enough rows per user that most test parts hold items unseen by their user.
    interactions = draw(tables(max_users=4, min_items=6, max_items=30, min_rows=8, max_rows=40))
    kind = draw(st.sampled_from(["random", "leave_one_out", "cold_start"]))
    if kind == "random":
        split = random_split(interactions, draw(ratio_triples(min_test=1)),
                             draw(st.integers(0, 1000)))
    elif kind == "leave_one_out":
        split = leave_one_out(interactions)
    else:
        n = len(interactions.items)
        assume(n >= 2)
        split = cold_start_split(interactions, item_fraction=0.5 if n > 2 else 0.4,
                                 seed=draw(st.integers(0, 1000)))
    return interactions, split


def by_user(frame):
    """{user id: set of item ids} of a part's frame."""
    return frame.groupby("user_id")["item_id"].agg(set).to_dict()


@SETTINGS
@given(splits(), st.integers(0, 3), st.sampled_from([("train", "valid"), ("train",)]))
def test_targets_positives_are_exactly_the_unseen_test_items(problem, extra, seen_parts):
    interactions, split = problem
    items = catalogue(interactions, extra)
    index = IndexedSplit(split, items)
    users, positives, exclude = index.targets("test", list(seen_parts))
    user_ids, item_ids = index.user_ids, index.item_ids
    assert list(users) == sorted(set(users.tolist()))  # ascending, once each
    truth = by_user(split.test.frame)
    seen = {}
    for part in seen_parts:
        for user, got in by_user(getattr(split, part).frame).items():
            seen.setdefault(user, set()).update(got)
    got = {}
    for user, pos, exc in zip(users, positives, exclude):
        pos_ids = {item_ids[i] for i in pos}
        exc_ids = {item_ids[i] for i in exc}
        assert len(pos_ids) == len(pos) > 0 and len(exc_ids) == len(exc)
        assert not pos_ids & exc_ids
        assert exc_ids == seen.get(user_ids[user], set())
        got[user_ids[user]] = pos_ids
    if not got:
        event("no user has an unseen test item")
    want = {user: test_items - seen.get(user, set()) for user, test_items in truth.items()}
    assert got == {user: fresh for user, fresh in want.items() if fresh}
    # Every test interaction on an item new to its user is a positive.
    for user, item in split.test.frame[["user_id", "item_id"]].itertuples(index=False):
        if item not in seen.get(user, set()):
            assert item in got[user]
    if len(split.cold_items):
        cold = set(split.cold_items.tolist())
        for user, test_items in truth.items():
            assert test_items & cold <= got.get(user, set())  # never seen in training


# Metrics through the pipeline ---------------------------------------------------------

KS = (1, 3, 5)
METRICS = ("recall", "ndcg", "hit", "mrr", "precision")


def brute_force(split, scores_of):
    """RecBole's metrics from the string frames: rank all items a user has not seen."""
    test = by_user(split.test.frame)
    seen = by_user(pd.concat([split.train.frame, split.valid.frame]))
    totals, users = {f"{m}@{k}": 0.0 for m in METRICS for k in KS}, 0
    for user, test_items in test.items():
        relevant = test_items - seen.get(user, set())
        if not relevant:
            continue
        users += 1
        scores = scores_of(user)
        ranking = sorted((i for i in scores if i not in seen.get(user, set())),
                         key=lambda i: -scores[i])
        for k in KS:
            hits = [item in relevant for item in ranking[:k]]
            totals[f"recall@{k}"] += sum(hits) / len(relevant)
            totals[f"precision@{k}"] += sum(hits) / k
            totals[f"hit@{k}"] += float(any(hits))
            totals[f"mrr@{k}"] += 1 / (hits.index(True) + 1) if any(hits) else 0.0
            dcg = sum(1 / math.log2(r + 2) for r, hit in enumerate(hits) if hit)
            totals[f"ndcg@{k}"] += dcg / sum(1 / math.log2(r + 2)
                                             for r in range(min(len(relevant), k)))
    return {key: value / users for key, value in totals.items()} if users else None


@settings(max_examples=40, deadline=None)
@given(splits(), st.integers(0, 3), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_metrics_on_targets_match_brute_force_and_ignore_catalogue_order(problem, extra, score_seed,
                                                                         order_seed):
    interactions, split = problem
    users_all = sorted(set(interactions.frame["user_id"]))
    items_all = sorted(set(interactions.frame["item_id"])) + [f"new{k}" for k in range(extra)]
    # Distinct scores per user (no ties), keyed by ids so any catalogue order sees the same.
    rng = np.random.default_rng(score_seed)
    table = {u: dict(zip(items_all, rng.permutation(len(items_all)).astype(np.float32)))
             for u in users_all}
    expected = brute_force(split, lambda user: table[user])
    results = []
    for seed in (None, order_seed):
        index = IndexedSplit(split, catalogue(interactions, extra, seed))
        users, positives, exclude = index.targets("test", ["train", "valid"])
        if expected is None:
            event("no user has an unseen test item")
            assert len(users) == 0
            return
        matrix = np.array([[table[u][i] for i in index.item_ids] for u in index.user_ids],
                          np.float32)
        result = RankingEvaluator(ks=KS, metrics=METRICS).evaluate(
            lambda batch: matrix[batch], users, positives, exclude, batch_size=2)
        assert all(0.0 <= value <= 1.0 for value in result.values())
        results.append(result)
    assert results[0] == pytest.approx(expected, abs=1e-6)
    assert results[1] == pytest.approx(results[0], abs=1e-6)  # item order does not matter
