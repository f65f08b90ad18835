"""CandidateReranker: its features against NumPy, what `follow` copies from a retrieval
model, its config, its listwise loss, and that it learns a planted choice."""

import json

import numpy as np
import pytest
import tensorflow as tf

from testing import TINY_HISTORIES, TINY_ITEMS, TINY_TEXT, TINY_TEXT_DIM, TINY_TWO_TOWER, TINY_USERS, TestCase
from tfllmrec.models import CandidateReranker, TwoTowerRetrieval
from tfllmrec.models.candidate_reranker import FEATURES, PADDING_SCORE, RECENT_PERIODS
from tfllmrec.tasks.rerank import item_pairs

RECENT, PERIODS, WINDOW = 3, 3, 2
# Longer than RECENT for most users: the reranker keeps each one's latest 3.
HISTORIES = [[0, 1, 2, 3, 4], [2, 3], [5], [6, 7, 0, 1], [], [1, 3, 5, 7, 2, 4]]
LATEST = [[2, 3, 4], [2, 3], [5], [7, 0, 1], [], [7, 2, 4]]
USER_PERIODS = [2, 1, 0, 2, -1, 1]
ITEM_LAST_PERIODS = [0, 1, 2, -1, 0, 1, 2, 0]
COUNTS = [5, 0, 3, 1, 8, 2, 0, 4]
# Training purchases (item, period), their latest per item being ITEM_LAST_PERIODS.
PURCHASES = (np.array([0, 0, 1, 1, 2, 2, 2, 4, 5, 6, 7, 7]), np.array([0, 0, 1, 0, 2, 1, 0, 0, 1, 2, 0, 0]))
# One row of candidates per user (index = user); a duplicate and every item somewhere.
CANDIDATES = np.array([[0, 1, 2, 3], [4, 5, 6, 7], [7, 0, 3, 5], [1, 1, 2, 6], [3, 4, 5, 6], [0, 2, 4, 6]],
                      np.int32)
LABELS = np.eye(4, dtype=np.float32)[[1, 3, 0, 2, 1, 3]]


def _retrieval(seed=0, offsets=True):
    """A tiny untrained `TwoTowerRetrieval` with item offsets (a CTR prior) and time periods."""
    tf.keras.utils.set_random_seed(seed)
    model = TwoTowerRetrieval(**dict(TINY_TWO_TOWER, ctr_prior_weight=1.0 if offsets else 0.0, period_days=7),
                              num_periods=PERIODS)
    model.set_training_data(np.ones(TINY_ITEMS), TINY_HISTORIES, TINY_TEXT, user_periods=USER_PERIODS)
    if offsets:
        model.set_item_bias(np.random.default_rng(seed).normal(scale=0.3, size=TINY_ITEMS))
    return model


RETRIEVAL = _retrieval()
PAIRS = item_pairs(HISTORIES, TINY_ITEMS, WINDOW)


def _config(text=True, periods=True, pairs=True, bias=True, hidden_units=(8,), cross_layers=0, heads=1):
    return dict(num_users=TINY_USERS, num_items=TINY_ITEMS, embedding_dim=TINY_TWO_TOWER["embedding_dim"],
                text_dim=TINY_TEXT_DIM if text else None, num_periods=PERIODS if periods else 0,
                num_purchases=len(PURCHASES[0]) if periods else 0,
                num_pairs=len(PAIRS[0]) if pairs else 0, item_bias=bias, recent_items=RECENT,
                hidden_units=hidden_units, cross_layers=cross_layers, heads=heads)


def _fill(model, retrieval=RETRIEVAL):
    model.set_item_statistics(COUNTS, TINY_TEXT, ITEM_LAST_PERIODS, PAIRS, PURCHASES)
    model.follow(retrieval, HISTORIES)
    return model


def _reranker(seed=0, standardize=True, **config):
    tf.keras.utils.set_random_seed(seed)
    model = _fill(CandidateReranker(**_config(**config)))
    if standardize:
        model.set_standardization(np.arange(TINY_USERS), CANDIDATES)
    return model


def _features(model, users=None, candidates=CANDIDATES):
    users = np.arange(TINY_USERS) if users is None else np.asarray(users)
    return model.features(tf.constant(users, tf.int32), tf.constant(candidates, tf.int32)).numpy()


def _column(model, values, name):
    return values[..., model.feature_names.index(name)]


def _cosine(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


class CandidateRerankerTest(TestCase):
    def test_reranker(self):
        features = {"user": np.arange(TINY_USERS, dtype=np.int32), "item": CANDIDATES, "label": LABELS}
        self.run_model_test(
            CandidateReranker, _config(), features,
            lambda model: model.score_candidates(tf.constant(features["user"]), tf.constant(CANDIDATES)),
            prepare=lambda model: _fill(model).set_standardization(features["user"], CANDIDATES))

    def test_reranker_with_heads(self):
        features = {"user": np.arange(TINY_USERS, dtype=np.int32), "item": CANDIDATES, "label": LABELS,
                    "fold": np.arange(TINY_USERS, dtype=np.int32) % 3}
        self.run_model_test(
            CandidateReranker, _config(heads=3, cross_layers=1), features,
            lambda model: model.score_candidates(tf.constant(features["user"]), tf.constant(CANDIDATES)),
            prepare=lambda model: _fill(model).set_standardization(features["user"], CANDIDATES))


FEATURE_SWITCHES = [dict(text=t, periods=p, pairs=q, bias=b) for t in (False, True) for p in (False, True)
                    for q in (False, True) for b in (False, True)]
# Cross layers and heads change the scorer, not the features.
SWITCHES = FEATURE_SWITCHES + [dict(cross_layers=2), dict(heads=3, cross_layers=1)]


@pytest.mark.parametrize("switches", SWITCHES, ids=lambda s: "-".join(k for k, v in s.items() if v) or "plain")
def test_config_round_trip_scores_identically(switches):
    model = _reranker(**switches)
    users, candidates = tf.constant([0, 3, -1, 5]), tf.constant(CANDIDATES[[0, 3, 4, 5]])
    expected = model.score_candidates(users, candidates).numpy()
    clone = CandidateReranker.from_config(json.loads(json.dumps(model.get_config())))
    assert clone.get_config() == model.get_config()
    assert clone.feature_names == model.feature_names
    assert clone.hidden_units == (8,) and clone.recent_items == RECENT
    # Unfilled (no retrieval state, other random weights) it scores otherwise...
    assert not np.allclose(clone.score_candidates(users, candidates).numpy(), expected, atol=1e-3)
    # ...and with the weights (state included) copied, exactly alike.
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.score_candidates(users, candidates).numpy(), expected, atol=1e-6)


def test_feature_names_follow_the_config():
    text = {f for f in FEATURES if f.startswith("text")}
    pairs = {f for f in FEATURES if f.startswith("log_pairs")} - {"log_pairs_cosine_recent"}
    assert text and pairs and "log_periods_since_item" in FEATURES
    for switches in FEATURE_SWITCHES:
        model = _reranker(standardize=False, **switches)
        names = model.feature_names
        # In FEATURES' order, and one column each.
        assert list(names) == [f for f in FEATURES if f in names]
        assert _features(model).shape == (TINY_USERS, CANDIDATES.shape[1], len(names))
        dropped = set(FEATURES) - set(names)
        expected = ((set() if switches["text"] else text) | (set() if switches["pairs"] else pairs)
                    | (set() if switches["periods"] else {"log_periods_since_item", "log_purchases_this_period",
                                                          "log_purchases_recent_periods"})
                    | (set() if switches["bias"] else {"item_offset"})
                    # Off unless asked for:
                    | {"log_neighbor_votes", "second_score", "log_pairs_cosine_recent", "ease_score"})
        assert dropped == expected, switches
        assert model.feature_mean.shape == model.feature_scale.shape == (len(names),)


def test_cross_layers_sit_between_the_features_and_the_scorer():
    plain, crossed = _reranker(seed=3), _reranker(seed=3, cross_layers=2)
    for model in (plain, crossed):
        model.score_candidates(tf.constant([0]), tf.constant(CANDIDATES[:1]))  # builds the layers
    assert len(crossed.cross) == 2 and crossed.cross_layers == 2 and not plain.cross
    # Each cross layer holds a full feature-by-feature kernel and a bias.
    size = len(crossed.feature_names)
    assert len(crossed.trainable_weights) == len(plain.trainable_weights) + 4
    assert {tuple(w.shape) for w in crossed.cross[0].trainable_weights} == {(size, size), (size,)}


def test_fewer_than_one_recent_item_is_rejected():
    for bad in (0, -2):
        with pytest.raises(ValueError, match=f"recent_items={bad}"):
            CandidateReranker(num_users=3, num_items=5, embedding_dim=4, recent_items=bad)


def test_an_unknown_user_has_zeros_for_every_user_dependent_feature():
    model = _reranker(standardize=False)
    same = np.tile(CANDIDATES[2], (TINY_USERS, 1))  # one list for every known user
    known = _features(model, np.arange(TINY_USERS), same)
    unknown = _features(model, [-1], same[:1])[0]
    # A feature is user-dependent when two known users' values for the same candidates differ.
    varies = np.ptp(known, axis=0).max(axis=0) > 1e-6
    dependent = [name for name, v in zip(model.feature_names, varies) if v]
    assert {"retrieval_score", "log_rank_in_list", "vector_cos_last", "text_cos_last", "log_pairs_last",
            "log_periods_since_item"} <= set(dependent)
    assert "log_item_count" not in dependent
    for name, v in zip(model.feature_names, varies):
        column = unknown[:, model.feature_names.index(name)]
        if v:
            np.testing.assert_array_equal(column, 0.0, err_msg=f"{name} of an unknown user")
        else:  # the item's own facts stay
            np.testing.assert_allclose(column, _column(model, known[0], name), atol=1e-6, err_msg=name)


def test_retrieval_score_and_log_rank_agree_with_numpy():
    model = _reranker(standardize=False, text=False, pairs=False, periods=False)
    values = _features(model)
    users = model.user_vectors.numpy().astype(np.float64)
    catalogue = users @ model.item_vectors.numpy().astype(np.float64).T + model.item_offsets.numpy()
    # The state is the retrieval model's: its own catalogue scores.
    np.testing.assert_allclose(catalogue, RETRIEVAL.score(tf.range(TINY_USERS)).numpy(), atol=1e-5)
    gaps = np.diff(np.sort(catalogue, axis=1), axis=1)
    assert gaps.min() > 1e-4  # no near-ties: the ranks below are exact
    score = np.take_along_axis(catalogue, CANDIDATES, axis=1)
    rank = (score[:, None, :] > score[:, :, None]).sum(-1)  # the list's candidates scored above each one
    np.testing.assert_allclose(_column(model, values, "retrieval_score"), score, atol=1e-5)
    np.testing.assert_allclose(_column(model, values, "log_rank_in_list"), np.log1p(rank), atol=1e-5)
    # The whole catalogue as the list: the best item has rank 0, the worst num_items - 1;
    # padding never counts as scored above.
    everything = np.tile(np.arange(TINY_ITEMS, dtype=np.int32), (TINY_USERS, 1))
    padded = np.concatenate([everything, np.full((TINY_USERS, 2), -1, np.int32)], 1)
    ranks = np.expm1(_column(model, _features(model, candidates=padded), "log_rank_in_list"))[:, :TINY_ITEMS]
    np.testing.assert_allclose(ranks, np.argsort(np.argsort(-catalogue, axis=1), axis=1), atol=1e-4)
    np.testing.assert_allclose(_column(model, values, "log_item_count"),
                               np.log1p(np.asarray(COUNTS, np.float64)[CANDIDATES]), atol=1e-6)


def test_recent_item_cosines_agree_with_numpy():
    model = _reranker(standardize=False, pairs=False, periods=False)
    values = _features(model)
    tables = {"vector": model.item_vectors.numpy(), "text": TINY_TEXT}
    for user, latest in enumerate(LATEST):
        for column, item in enumerate(CANDIDATES[user]):
            for space, table in tables.items():
                cosines = [_cosine(table[item], table[r]) for r in latest]
                want = {"cos_last": cosines[-1], "cos_recent": np.mean(cosines),
                        "max_cos_recent": max(cosines)} if latest else dict.fromkeys(
                            ("cos_last", "cos_recent", "max_cos_recent"), 0.0)
                for suffix, value in want.items():
                    name = f"{space}_{suffix}"
                    if name in model.feature_names:
                        got = _column(model, values, name)[user, column]
                        assert got == pytest.approx(value, abs=1e-5), (name, user, item)


def test_pair_counts_agree_with_a_count_over_the_histories():
    tf.keras.utils.set_random_seed(0)
    model = _fill(CandidateReranker(**dict(_config(text=False, periods=False), pair_cosine=True)))
    counts = np.zeros((TINY_ITEMS, TINY_ITEMS))
    for history in HISTORIES:
        for i, a in enumerate(history):
            for b in history[i + 1:i + 1 + WINDOW]:
                if a != b:
                    counts[a, b] += 1
                    counts[b, a] += 1
    assert counts.sum() > 0
    values = _features(model)
    last = np.array([[counts[latest[-1], c] if latest else 0 for c in row] for latest, row in zip(LATEST, CANDIDATES)])
    recent = np.array([[sum(counts[r, c] for r in latest) for c in row] for latest, row in zip(LATEST, CANDIDATES)])
    assert last.max() > 0 and (recent > last).any()
    np.testing.assert_allclose(_column(model, values, "log_pairs_last"), np.log1p(last), atol=1e-6)
    np.testing.assert_allclose(_column(model, values, "log_pairs_recent"), np.log1p(recent), atol=1e-6)
    # Item-kNN's cosine: each pair count over the root of both items' training counts (at least 1).
    popularity = np.maximum(np.asarray(COUNTS, np.float64), 1)
    cosine = np.array([[sum(counts[r, c] / np.sqrt(popularity[r] * popularity[c]) for r in latest) for c in row]
                       for latest, row in zip(LATEST, CANDIDATES)])
    assert (cosine > 0).any() and not np.allclose(cosine, recent)
    np.testing.assert_allclose(_column(model, values, "log_pairs_cosine_recent"), np.log1p(cosine), atol=1e-5)


def test_periods_since_the_item_was_last_bought():
    model = _reranker(standardize=False, text=False, pairs=False)
    since = np.asarray(USER_PERIODS)[:, None] - np.asarray(ITEM_LAST_PERIODS)[CANDIDATES]
    np.testing.assert_allclose(_column(model, _features(model), "log_periods_since_item"),
                               np.log1p(np.clip(since, 0, None)), atol=1e-6)


def test_purchases_in_the_requests_period_and_the_recent_ones():
    model = _reranker(standardize=False, text=False, pairs=False)
    values = _features(model)
    for name, periods in (("this_period", 1), ("recent_periods", RECENT_PERIODS)):
        expected = np.zeros(CANDIDATES.shape)
        for user, row in enumerate(CANDIDATES):
            for j, item in enumerate(row):
                now = USER_PERIODS[user]
                expected[user, j] = np.sum((PURCHASES[0] == item) & (PURCHASES[1] > now - periods)
                                           & (PURCHASES[1] <= now))
        np.testing.assert_allclose(_column(model, values, f"log_purchases_{name}"), np.log1p(expected), atol=1e-6)
    assert np.ptp(_column(model, values, "log_purchases_recent_periods")) > 0.5


def test_follow_copies_the_retrieval_models_current_state():
    model = _reranker(standardize=False)
    users = tf.range(TINY_USERS)
    np.testing.assert_allclose(model.user_vectors.numpy(), RETRIEVAL.query(users).numpy(), atol=1e-6)
    np.testing.assert_allclose(model.item_vectors.numpy(), RETRIEVAL.candidates().numpy(), atol=1e-6)
    np.testing.assert_allclose(model.item_offsets.numpy(), RETRIEVAL.offsets(), atol=1e-7)
    assert np.abs(model.item_offsets.numpy()).max() > 0.1
    want = np.full((TINY_USERS, RECENT), -1)
    for user, latest in enumerate(LATEST):  # the latest items, oldest first, -1 padding on the right
        want[user, :len(latest)] = latest
    np.testing.assert_array_equal(model.recent.numpy(), want)
    np.testing.assert_array_equal(model.user_period.numpy(), USER_PERIODS)
    # Followed again, it holds the other model's state alone: its vectors, no offsets, new histories.
    other = _retrieval(seed=3, offsets=False)
    other.user_tower.set_periods([0] * TINY_USERS)
    model.follow(other, [np.array([7, 6, 5, 4])] * 2)
    np.testing.assert_allclose(model.user_vectors.numpy(), other.query(users).numpy(), atol=1e-6)
    np.testing.assert_allclose(model.item_vectors.numpy(), other.candidates().numpy(), atol=1e-6)
    np.testing.assert_array_equal(model.item_offsets.numpy(), 0.0)
    np.testing.assert_array_equal(model.recent.numpy(), [[6, 5, 4]] * 2 + [[-1] * RECENT] * (TINY_USERS - 2))
    np.testing.assert_array_equal(model.user_period.numpy(), 0)
    np.testing.assert_allclose(_column(model, _features(model), "retrieval_score"),
                               np.take_along_axis(other.score(users).numpy(), CANDIDATES, axis=1), atol=1e-5)


def test_the_loss_is_a_softmax_over_each_list_sharing_the_chosen_mass():
    model = _reranker()
    labels = np.array([[1, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], np.float32)  # two chosen; one; none
    users, items = np.array([0, 1, 2], np.int32), CANDIDATES[:3]
    scores = model.score_candidates(tf.constant(users), tf.constant(items)).numpy().astype(np.float64)
    log_softmax = scores - np.log(np.exp(scores).sum(1, keepdims=True))
    target = labels / np.maximum(labels.sum(1, keepdims=True), 1)
    expected = np.mean(-(target * log_softmax).sum(1))
    loss = model.compute_loss({"user": tf.constant(users), "item": tf.constant(items), "label": tf.constant(labels)})
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert expected > 0


def test_padding_candidates_score_lowest_and_add_nothing_to_the_loss():
    model = _reranker()
    users, items = np.array([0, 1], np.int32), CANDIDATES[:2].copy()
    padded = items.copy()
    padded[:, 2:] = -1
    labels = np.array([[1, 0, 0, 0], [0, 1, 0, 0]], np.float32)
    scores = model.score_candidates(tf.constant(users), tf.constant(padded)).numpy()
    np.testing.assert_array_equal(scores[:, 2:], PADDING_SCORE)
    real = model.score_candidates(tf.constant(users), tf.constant(items[:, :2])).numpy()
    np.testing.assert_allclose(scores[:, :2], real, rtol=1e-6)
    # The padded lists' loss is the softmax over their two real candidates alone.
    log_softmax = real - np.log(np.exp(real.astype(np.float64)).sum(1, keepdims=True))
    loss = model.compute_loss({"user": tf.constant(users), "item": tf.constant(padded), "label": tf.constant(labels)})
    assert float(loss) == pytest.approx(np.mean(-log_softmax[[0, 1], [0, 1]]), rel=1e-5)


def test_the_retrieval_models_item_offset_is_a_feature_of_its_own():
    model = _reranker(bias=True)
    offsets = _column(model, _features(model), "item_offset")
    np.testing.assert_allclose(offsets, RETRIEVAL.offsets()[CANDIDATES], rtol=1e-6)
    assert np.ptp(offsets) > 0.1


def _planted(num_users=240, num_items=40, per_list=8, seed=0):
    """Histories of 4 random items; each user's list of 8 other items, the chosen one the
    candidate whose text is closest to the user's last item (a signal only the text carries)."""
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(num_items, 8)).astype(np.float32)
    units = text / np.linalg.norm(text, axis=1, keepdims=True)
    histories, lists, labels = [], [], []
    for _ in range(num_users):
        items = rng.permutation(num_items)
        history, candidates = items[:4], items[4:4 + per_list]
        histories.append(history.tolist())
        lists.append(candidates)
        labels.append(np.eye(per_list)[np.argmax(units[candidates] @ units[history[-1]])])
    return text, histories, np.array(lists, np.int32), np.array(labels, np.float32)


def _top1(model, users, lists, labels):
    scores = model.score_candidates(tf.constant(users, tf.int32), tf.constant(lists)).numpy()
    return float(np.mean(labels[np.arange(len(users)), scores.argmax(1)]))


def test_it_learns_to_put_the_planted_choice_first():
    text, histories, lists, labels = _planted()
    num_users, num_items = len(histories), text.shape[0]
    tf.keras.utils.set_random_seed(4)
    retrieval = TwoTowerRetrieval(num_users=num_users, num_items=num_items, text_dim=8, embedding_dim=8,
                                  text_hidden_dim=8)
    retrieval.set_training_data(np.ones(num_items), histories, text)
    model = CandidateReranker(num_users, num_items, embedding_dim=8, text_dim=8, recent_items=3, hidden_units=(8,))
    model.set_item_statistics(np.ones(num_items), text)
    model.follow(retrieval, histories)
    users = np.arange(num_users)
    train, held = users[:180], users[180:]
    model.set_standardization(train, lists[train])
    before = _top1(model, held, lists[held], labels[held])
    data = tf.data.Dataset.from_tensor_slices({"user": train.astype(np.int32), "item": lists[train],
                                               "label": labels[train]}).batch(30)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.03))
    history = model.fit(data, epochs=15, verbose=0).history
    after = _top1(model, held, lists[held], labels[held])
    # Chance is 1/8 = 0.125; text_cos_last names the choice, the other features are noise.
    assert after >= 0.9, (before, after)
    assert after > before + 0.3
    assert history["loss"][-1] < 0.5 * history["loss"][0]


def _with_neighbors_and_second(neighbors=2, second=None):
    tf.keras.utils.set_random_seed(0)
    second = second or _retrieval(seed=5, offsets=False)
    model = CandidateReranker(**dict(_config(text=False, periods=False), pair_cosine=True, neighbors=neighbors,
                                     second_dim=TINY_TWO_TOWER["embedding_dim"]))
    model.set_item_statistics(COUNTS, pairs=PAIRS)
    model.follow(RETRIEVAL, HISTORIES, second)
    return model, second


def test_neighbor_votes_count_the_similar_users_latest_items():
    model, _ = _with_neighbors_and_second()
    ids, weights = model.neighbor_ids.numpy(), model.neighbor_weights.numpy()
    assert (ids >= 0).sum() >= TINY_USERS and (ids != np.arange(TINY_USERS)[:, None]).all()
    votes = np.array([[sum(w for v, w in zip(ids[u], weights[u]) if v >= 0 and c in LATEST[v]) for c in row]
                      for u, row in enumerate(CANDIDATES)])
    assert votes.max() > 0 and (votes == 0).any()
    values = _features(model, users=[0, 1, 2, 3, 4, 5])
    np.testing.assert_allclose(_column(model, values, "log_neighbor_votes"), np.log1p(votes), atol=1e-6)
    # A user the model does not know has no neighbours to ask.
    np.testing.assert_array_equal(_column(model, _features(model, users=[-1], candidates=CANDIDATES[:1]),
                                          "log_neighbor_votes"), 0.0)


def test_the_second_models_score_is_a_feature_and_follow_requires_it():
    model, second = _with_neighbors_and_second()
    users = tf.range(TINY_USERS)
    np.testing.assert_allclose(_column(model, _features(model), "second_score"),
                               np.take_along_axis(second.score(users).numpy(), CANDIDATES, axis=1), atol=1e-5)
    assert not np.allclose(_column(model, _features(model), "second_score"),
                           _column(model, _features(model), "retrieval_score"), atol=1e-2)
    with pytest.raises(ValueError, match=r"second retrieval model.*follow\(retrieval, histories, second=\.\.\.\)"):
        model.follow(RETRIEVAL, HISTORIES)


def test_neighbors_and_second_model_survive_the_config_round_trip():
    model, second = _with_neighbors_and_second(neighbors=3)
    model.set_standardization(np.arange(TINY_USERS), CANDIDATES)
    users, candidates = tf.constant([0, 3, -1, 5]), tf.constant(CANDIDATES[[0, 3, 4, 5]])
    expected = model.score_candidates(users, candidates).numpy()
    clone = CandidateReranker.from_config(json.loads(json.dumps(model.get_config())))
    assert clone.get_config() == model.get_config() and clone.neighbors == 3
    assert {"log_neighbor_votes", "second_score", "log_pairs_cosine_recent"} <= set(clone.feature_names)
    clone.score_candidates(users, candidates)  # builds the scorer's layers
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.score_candidates(users, candidates).numpy(), expected, atol=1e-6)


PADDED = np.array([[0, 1, -1], [4, 5, 6], [7, -1, -1]], np.int32)


def test_the_score_is_the_heads_mean_and_each_head_can_score_alone():
    model = _reranker(heads=3, hidden_units=(8, 4))
    assert len(model.more_heads) == 2 and model.get_config()["heads"] == 3
    users, items = tf.constant([0, 3, 5]), tf.constant(PADDED)
    every = model.head_scores(users, items).numpy()
    assert every.shape == (3, 3, 3)
    # Each head has weights of its own: they score differently.
    assert not np.allclose(every[0], every[1], atol=1e-3) and not np.allclose(every[1], every[2], atol=1e-3)
    real = PADDED >= 0
    mean = model.score_candidates(users, items).numpy()
    np.testing.assert_allclose(mean[real], every.mean(0)[real], atol=1e-5)
    assert (mean[~real] == PADDING_SCORE).all()
    chosen = model.score_candidates(users, items, heads=tf.constant([2, 0, 1])).numpy()
    for row, head in enumerate([2, 0, 1]):
        np.testing.assert_allclose(chosen[row][real[row]], every[head, row][real[row]], atol=1e-6)
    assert (chosen[~real] == PADDING_SCORE).all()


def _gradient_norms(model, features):
    with tf.GradientTape() as tape:
        loss = model.compute_loss({k: tf.constant(v) for k, v in features.items()})
    heads = [model.linear.kernel, *(head.linear.kernel for head in model.more_heads)]
    return [float(tf.norm(g)) for g in tape.gradient(loss, heads)]


def test_a_head_learns_nothing_from_the_lists_of_its_own_fold():
    model = _reranker(heads=3)
    features = {"user": np.arange(TINY_USERS, dtype=np.int32), "item": CANDIDATES, "label": LABELS}
    # Every list in fold 1: heads 0 and 2 learn from them, head 1 not at all.
    first, second, third = _gradient_norms(model, dict(features, fold=np.ones(TINY_USERS, np.int32)))
    assert second == 0 and first > 1e-4 and third > 1e-4
    # No folds (or fold -1): every head learns from every list, each as a one-head model would.
    assert all(norm > 1e-4 for norm in _gradient_norms(model, features))
    assert _gradient_norms(model, dict(features, fold=-np.ones(TINY_USERS, np.int32))) == pytest.approx(
        _gradient_norms(model, features))
    one = _reranker(heads=1)
    loss = one.compute_loss({k: tf.constant(v) for k, v in features.items()})
    lists = tf.constant(LABELS) / tf.reduce_sum(LABELS, 1, keepdims=True)
    softmax = tf.keras.losses.CategoricalCrossentropy(from_logits=True)(
        lists, one.score_candidates(tf.constant(features["user"]), tf.constant(CANDIDATES)))
    assert float(loss) == pytest.approx(float(softmax), rel=1e-6)


def test_fewer_than_one_head_is_rejected():
    with pytest.raises(ValueError, match="heads=0: score with at least 1 head"):
        CandidateReranker(**_config(heads=0))
