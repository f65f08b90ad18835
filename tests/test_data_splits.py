"""Split invariants on synthetic data and on the real ML-100K."""

import numpy as np
import pandas as pd
import pytest

from tfllmrec.data import (
    Interactions, Split, cold_start_split, leave_one_out, load_movielens_100k, random_split)
from tfllmrec.data.splits import _calcu_split_ids
from tfllmrec.errors import DataError
from test_data_movielens import dataset_dir
from test_data_tables import raises_data_error


@pytest.fixture(scope="module")
def ml100k(shared):
    return load_movielens_100k(dataset_dir(shared, "ml-100k")).interactions


@pytest.fixture
def synthetic():
    """Users with 1..25 interactions, some timestamps tied, rows interleaved."""
    rng = np.random.default_rng(0)
    rows = [(f"u{n}", f"i{rng.integers(60)}", int(rng.integers(5)))
            for n in range(1, 26) for _ in range(n)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    frame = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    frame.index = pd.Index(frame.index + 2, name="line")
    return Interactions(frame, source="synthetic.csv")


def assert_partition(split, interactions):
    labels = [part.frame.index for part in (split.train, split.valid, split.test)]
    joined = np.concatenate([np.asarray(x) for x in labels])
    assert len(joined) == len(interactions) == len(set(joined))
    assert set(joined) == set(interactions.frame.index)
    for part in (split.train, split.valid, split.test):
        assert isinstance(part, Interactions)
        original = interactions.frame.loc[part.frame.index]
        pd.testing.assert_frame_equal(part.frame, original)


def sizes_per_user(part, users):
    return part.frame["user_id"].value_counts().reindex(users, fill_value=0)


def test_recbole_rule_examples():
    expected = {1: (1, 0, 0), 2: (1, 0, 1), 3: (1, 1, 1), 4: (2, 1, 1), 5: (3, 1, 1),
                10: (8, 1, 1), 20: (16, 2, 2), 25: (21, 2, 2)}
    for tot, counts in expected.items():
        cuts = _calcu_split_ids(tot, [0.8, 0.1, 0.1])
        assert (cuts[0], cuts[1] - cuts[0], tot - cuts[1]) == counts


@pytest.mark.parametrize("ratios", [(0.8, 0.1, 0.1), (0.6, 0.0, 0.4), (0.7, 0.2, 0.1)])
def test_random_split_follows_the_recbole_rule(synthetic, ratios):
    split = random_split(synthetic, ratios=ratios, seed=7)
    assert_partition(split, synthetic)
    users = synthetic.users
    totals = synthetic.frame["user_id"].value_counts().reindex(users)
    got = np.stack([sizes_per_user(p, users) for p in (split.train, split.valid, split.test)], 1)
    for user, tot, row in zip(users, totals, got):
        cuts = _calcu_split_ids(int(tot), list(ratios))
        assert tuple(row) == (cuts[0], cuts[1] - cuts[0], tot - cuts[1]), user
    assert split.cold_items.size == 0


def test_random_split_is_seeded(ml100k):
    first, again = random_split(ml100k, seed=2020), random_split(ml100k, seed=2020)
    other = random_split(ml100k, seed=2021)
    assert_partition(first, ml100k)
    for a, b in zip((first.train, first.valid, first.test), (again.train, again.valid, again.test)):
        assert a.frame.index.equals(b.frame.index)
    assert not first.test.frame.index.equals(other.test.frame.index)
    assert first.sizes == other.sizes == (80808, 9596, 9596)  # sizes depend on counts only


def test_bad_ratios():
    frame = Interactions(pd.DataFrame({"user_id": ["a"], "item_id": ["b"]}))
    for ratios, words in [((0.8, 0.1, 0.2), "sum to 1.1"), ((0.9, 0.1), "three numbers"),
                          ((1.1, -0.05, -0.05), "must be >= 0"), ((0, 0.5, 0.5), "train > 0")]:
        with raises_data_error(words):
            random_split(frame, ratios=ratios)
    with raises_data_error("sum to"):
        cold_start_split(frame, ratios=(0.5, 0.1, 0.1))


def test_empty_valid_and_test_are_allowed():
    frame = pd.DataFrame({"user_id": ["a", "b"], "item_id": ["x", "y"], "timestamp": [1, 2]})
    for split in (random_split(Interactions(frame)), leave_one_out(Interactions(frame))):
        assert isinstance(split, Split)
        assert split.sizes == (2, 0, 0)
        assert "valid=0" in repr(split)


def test_leave_one_out(synthetic):
    split = leave_one_out(synthetic)
    assert_partition(split, synthetic)
    frame = synthetic.frame
    for user, rows in frame.groupby("user_id", sort=False):
        # Latest = largest timestamp; of equal ones the later row.
        ordered = rows.assign(pos=np.arange(len(rows))).sort_values(["timestamp", "pos"])
        test = split.test.frame[split.test.frame["user_id"] == user]
        valid = split.valid.frame[split.valid.frame["user_id"] == user]
        if len(rows) < 3:
            assert len(test) == len(valid) == 0
            continue
        assert test.index.tolist() == [ordered.index[-1]]
        assert valid.index.tolist() == [ordered.index[-2]]


def test_leave_one_out_real_data(ml100k):
    split = leave_one_out(ml100k)
    assert split.sizes == (100000 - 2 * 943, 943, 943)
    latest = ml100k.frame.groupby("user_id")["timestamp"].max()
    test = split.test.frame.set_index("user_id")["timestamp"]
    assert (test.reindex(latest.index) == latest).all()


def test_leave_one_out_needs_timestamps():
    frame = pd.DataFrame({"user_id": ["a", "a"], "item_id": ["x", "y"], "timestamp": [1, None]})
    frame.index = pd.Index([2, 3], name="line")
    with raises_data_error("f.csv", "1 row(s) have no timestamp", "line 3", "random_split"):
        leave_one_out(Interactions(frame, source="f.csv"))


def test_cold_start_split(ml100k):
    split = cold_start_split(ml100k, item_fraction=0.1, seed=2020)
    assert_partition(split, ml100k)
    n_items = len(ml100k.items)
    assert len(split.cold_items) == int(np.floor(0.1 * n_items + 0.5)) == 168
    cold = set(split.cold_items)
    assert not cold & set(split.train.items) and not cold & set(split.valid.items)
    of_cold = ml100k.frame["item_id"].isin(split.cold_items)
    assert set(ml100k.frame.index[of_cold]) <= set(split.test.frame.index)
    # The warm rows are split exactly as random_split would split them.
    warm = random_split(ml100k.filter(~of_cold.to_numpy()), seed=2020)
    assert split.train.frame.index.equals(warm.train.frame.index)
    assert set(split.test.frame.index) == set(warm.test.frame.index) | set(
        ml100k.frame.index[of_cold])
    again = cold_start_split(ml100k, item_fraction=0.1, seed=2020)
    assert (again.cold_items == split.cold_items).all()
    other = cold_start_split(ml100k, item_fraction=0.1, seed=1)
    assert set(other.cold_items) != cold


def test_cold_start_bad_fraction():
    frame = Interactions(pd.DataFrame({"user_id": ["a"] * 3, "item_id": ["x", "y", "z"]}))
    with raises_data_error("rounds to 0 cold items"):
        cold_start_split(frame, item_fraction=0.1)
    with raises_data_error("between 0 and 1"):
        cold_start_split(frame, item_fraction=1.0)
    assert len(cold_start_split(frame, item_fraction=0.5).cold_items) == 2  # 1.5 rounds up
    with pytest.raises(DataError):
        cold_start_split(frame, item_fraction=0.9)  # 3 cold items leave none warm
