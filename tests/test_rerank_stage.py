"""The reranking stage (ranking.objective=rerank): a CandidateReranker over ours' shortlists
in the same run, its resume, two-stage recommendations and their export."""

import json

import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_recipe_overrides, write_tiny_dataset
from testing import assert_reranked_shortlist, interrupted_copy
from tfllmrec.errors import ConfigError
from tfllmrec.models import CandidateReranker
from tfllmrec.recipes import get_recipe, with_overrides
from tfllmrec.recipes.pipeline import train_recipe
from tfllmrec.tasks.rerank import list_folds, shortlists, two_stage_scores, validation_lists

CANDIDATES, KS, TOP_K = 10, (5, 10, 20), 5
RERANK = ["ranking.enabled=true", "ranking.objective=rerank", "ranking.baselines=[]",
          f"ranking.candidates={CANDIDATES}", "ranking.hidden_units=[8]", "ranking.train.epochs=3",
          "ranking.train.batch_size=16", "ranking.train.learning_rate=0.01", "ranking.neighbors=3",
          "ranking.pair_cosine=true",
          # The reranker also reads the ID-only baseline's score: it is trained in the same run.
          "ranking.second_retrieval=id_two_tower", "eval.baselines=[id_two_tower]", "baseline_train.epochs=2",
          "data.cold_start_fraction=0", f"export.rank_candidates={CANDIDATES}", f"export.top_k={TOP_K}"]


def _config(folder):
    return with_overrides(get_recipe("video"), tiny_recipe_overrides(folder, epochs=3) + RERANK)


FOLDS = 3


@pytest.fixture(scope="module")
def folds_run(tmp_path_factory):
    """The same tiny run with `ranking.folds=3` (three heads, picked out of
    fold) and `ranking.ease_l2` (EASE's weights, refitted as the run serves)."""
    folder = write_tiny_dataset(tmp_path_factory.mktemp("folds_data"), num_users=60)
    run_dir = tmp_path_factory.mktemp("runs") / "folds"
    metrics = train_recipe(with_overrides(_config(folder), [f"ranking.folds={FOLDS}", "ranking.ease_l2=10"]),
                           run_dir, verbose=0)
    return run_dir, metrics, folder


@pytest.fixture(scope="module")
def rerank_run(tmp_path_factory):
    folder = write_tiny_dataset(tmp_path_factory.mktemp("rerank_data"), num_users=60)
    run_dir = tmp_path_factory.mktemp("runs") / "rerank"
    metrics = train_recipe(_config(folder), run_dir, verbose=0)
    return run_dir, metrics, folder


def test_the_run_reports_two_stage_full_ranking_metrics(rerank_run):
    _, metrics, _ = rerank_run
    ranking, retrieval = metrics["ranking"], metrics["test"]
    keys = [f"{m}@{k}" for m in ("recall", "ndcg") for k in KS]
    assert set(keys) <= set(ranking["test"]) and set(ranking["test"]) == set(retrieval)
    assert all(0 <= value <= 1 for value in ranking["test"].values())
    assert ranking["baselines"] == {}
    training = ranking["training"]
    lists = training["lists"]
    # 20% of the validation users are held out to pick the epoch; only lists with a chosen item train.
    users = lists["train_users"] + lists["holdout_users"]
    assert lists["holdout_users"] == round(0.2 * users) and users >= 40
    assert 0 < lists["train_lists"] <= lists["train_users"]
    assert 1 <= training["best_epoch"] <= training["epochs_run"] <= 3
    assert len(training["valid_history"]) == training["epochs_run"]


def test_the_reranker_moves_items_only_inside_the_shortlist(rerank_run):
    _, metrics, _ = rerank_run
    two, one = metrics["ranking"]["test"], metrics["test"]
    for k in KS:
        if k >= CANDIDATES:
            # The first K of the two stages are the shortlist then the retrieval order: the same set
            # of items as the retrieval stage's first K, so every set metric is the same.
            for metric in ("recall", "hit", "precision"):
                assert two[f"{metric}@{k}"] == pytest.approx(one[f"{metric}@{k}"], abs=1e-9), (metric, k)
        else:
            # Re-ordered within the shortlist: never more found than the whole shortlist holds.
            assert two[f"recall@{k}"] <= one[f"recall@{CANDIDATES}"] + 1e-9
            assert two[f"hit@{k}"] <= one[f"hit@{CANDIDATES}"] + 1e-9
    # And it did re-order: the rank-aware metrics moved.
    assert any(abs(two[f"{m}@{k}"] - one[f"{m}@{k}"]) > 1e-3 for m in ("ndcg", "mrr") for k in KS)


class _ByIndex:
    """A stand-in reranker: the lower the item index, the higher the score."""

    @staticmethod
    def score_candidates(users, candidates, heads=None):
        return -tf.cast(candidates, tf.float32)


def test_two_stage_scores_keep_the_retrieval_order_below_the_shortlist():
    rng = np.random.default_rng(0)
    scores = rng.uniform(-1, 1, size=(4, 50)).astype(np.float32)  # cosine-like retrieval scores
    exclude = [[], [3, 7], list(np.argsort(-scores[2])[:2]), []]
    shortlist = shortlists(scores, exclude, 6)
    assert shortlist.shape == (4, 6)
    for row, seen in enumerate(exclude):
        unseen = np.setdiff1d(np.arange(50), seen)
        np.testing.assert_array_equal(shortlist[row], unseen[np.argsort(-scores[row, unseen], kind="stable")][:6])
    combined = two_stage_scores(_ByIndex(), np.arange(4), scores, shortlist)
    for row in range(4):
        order = np.argsort(-combined[row], kind="stable")
        # First the shortlist, in the reranker's order (here: by item index)...
        np.testing.assert_array_equal(order[:6], np.sort(shortlist[row]))
        # ...then every other item, in the retrieval stage's order.
        rest = np.setdiff1d(np.arange(50), shortlist[row])
        np.testing.assert_array_equal(order[6:], rest[np.argsort(-scores[row, rest], kind="stable")],
                                      err_msg=f"row {row}: the items below the shortlist lost the retrieval order")


def test_an_interrupted_run_resumes_with_the_same_reranking_results(rerank_run, tmp_path):
    run_dir, metrics, folder = rerank_run
    # Killed after the reranker's last epoch, before its test metrics were kept.
    copy, _ = interrupted_copy(run_dir, tmp_path, "ranking")
    resumed = train_recipe(_config(folder), copy, verbose=0)
    assert resumed["ranking"] == metrics["ranking"]
    assert resumed["test"] == metrics["test"]


def test_trained_run_reorders_the_retrieved_shortlist_by_the_reranker(rerank_run):
    from tfllmrec.recipes.trained_run import TrainedRun

    run = TrainedRun(rerank_run[0])
    assert isinstance(run.ranker, CandidateReranker)
    user = run.user_index("u0")
    assert_reranked_shortlist(run, "u0", 5, CANDIDATES)
    # Served, the reranker follows the retrieval model with every known item of each user.
    np.testing.assert_allclose(run.ranker.user_vectors.numpy()[user], run.model.query(tf.constant([user])).numpy()[0],
                               atol=1e-6)
    latest = list(run.seen[user])[-run.config.ranking.recent_items:]
    assert run.ranker.recent.numpy()[user].tolist() == latest
    # The second model (ranking.second_retrieval) is the run's ID-only baseline, restored and followed too.
    assert run.second is not None and run.second.get_config()["use_text"] is False
    np.testing.assert_allclose(run.ranker.second_user_vectors.numpy()[user],
                               run.second.query(tf.constant([user])).numpy()[0], atol=1e-6)
    assert {"second_score", "log_neighbor_votes", "log_pairs_cosine_recent"} <= set(run.ranker.feature_names)
    assert (run.ranker.neighbor_ids.numpy() >= 0).any()


@pytest.mark.parametrize("run_fixture", ["rerank_run", "folds_run"])
def test_the_export_serves_rank_and_two_stages_as_trained_run_does(run_fixture, request, tmp_path):
    from tfllmrec.recipes.export_run import export_run
    from tfllmrec.recipes.trained_run import TrainedRun

    run_dir = request.getfixturevalue(run_fixture)[0]
    run = TrainedRun(run_dir)
    path = export_run(str(run_dir), str(tmp_path / "rerank"), retrieval_only=True)
    loaded = tf.saved_model.load(path)
    assert {"rank", "recommend_ranked"} <= set(loaded.signatures)
    users = ["u0", "u1", "u7"]
    ranked = loaded.signatures["recommend_ranked"](user_id=tf.constant(users))
    for row, user in enumerate(users):
        want = run.recommend_for_user(user, k=run.config.export.top_k)
        assert [i.decode() for i in ranked["item_ids"].numpy()[row]] == [item for item, _, _ in want]
        np.testing.assert_allclose(ranked["scores"].numpy()[row], [s for _, _, s in want], atol=1e-4)
    items = [["i0", "i1", "i2", "i5"], ["i3", "i3", "i0", "i59"]]
    scores = loaded.signatures["rank"](user_id=tf.constant(["u2", "nobody"]), item_ids=tf.constant(items))["scores"]
    position = {item: i for i, item in enumerate(run.item_ids)}
    expected = run.ranker.score_candidates(tf.constant([run.user_index("u2"), -1]),
                                           tf.constant([[position[i] for i in row] for row in items])).numpy()
    np.testing.assert_allclose(scores.numpy(), expected, atol=1e-4)
    assert np.ptp(expected[0]) > 1e-3  # the scores tell the items apart
    with pytest.raises(tf.errors.InvalidArgumentError, match="not in the catalogue of the ranking model"):
        loaded.signatures["rank"](user_id=tf.constant(["u0"]), item_ids=tf.constant([["i0", "zzz"]]))


def test_the_two_stage_summary_is_printed_beside_the_retrieval_stage(rerank_run):
    from tfllmrec.tasks import RetrievalTask

    metrics = json.loads((rerank_run[0] / "metrics.json").read_text())
    lines = RetrievalTask.summary_lines(metrics, KS)
    rows = {line[:22].strip(): line[22:].split() for line in lines}
    assert rows["two stages, full"] == ["recall@10", "hit@10", "ndcg@10"]
    for row, test in (("retrieval only", metrics["test"]), ("ours, reranked", metrics["ranking"]["test"])):
        assert rows[row] == [f"{test[n]:.4f}" for n in ("recall@10", "hit@10", "ndcg@10")]
    assert not any("RMSE" in line for line in lines)


def test_rerank_with_rating_baselines_names_the_fix():
    with pytest.raises(ConfigError, match=r"rating baselines.*ranking\.baselines=\[\]"):
        with_overrides(get_recipe("video"), ["ranking.objective=rerank"])  # video keeps svd and svdpp


@pytest.mark.parametrize("overrides, message", [
    (["ranking.second_retrieval=id_two_tower", "eval.baselines=[popularity]"],
     r"eval\.baselines has no 'id_two_tower'.*add it to eval\.baselines"),
    (["ranking.second_retrieval=sasrec_id"], r"second_retrieval='sasrec_id': use one of id_two_tower"),
    (["ranking.objective=rating", "ranking.neighbors=5"], r"the reranker.s.*ranking\.objective=rerank"),
])
def test_second_retrieval_and_neighbors_name_the_fix(overrides, message):
    base = ["ranking.enabled=true", "ranking.objective=rerank", "ranking.baselines=[]"]
    with pytest.raises(ConfigError, match=message):
        with_overrides(get_recipe("music"), base + overrides)


def test_an_unknown_objective_names_the_choices():
    with pytest.raises(ConfigError, match=r"objective='ctr'.*rating, rerank"):
        with_overrides(get_recipe("video"), ["ranking.objective=ctr"])
    with pytest.raises(ConfigError, match="ranking.candidates"):
        with_overrides(get_recipe("video"), ["ranking.objective=rerank", "ranking.baselines=[]",
                                             "ranking.candidates=1"])


def test_a_run_missing_the_second_models_checkpoint_names_it(rerank_run, tmp_path):
    import shutil

    from tfllmrec.errors import RunFolderError
    from tfllmrec.recipes.trained_run import TrainedRun

    copy = tmp_path / "copied_in_part"
    shutil.copytree(rerank_run[0], copy)
    shutil.rmtree(copy / "checkpoints" / "id_two_tower")
    with pytest.raises(RunFolderError, match=r"checkpoints/id_two_tower/best"):
        TrainedRun(copy)


@pytest.mark.parametrize("count", [1, 7, 50])
def test_list_folds_hold_out_a_fifth_or_share_every_list_out_evenly(count):
    one = list_folds(count, 1, seed=4)
    # One fold: 20% (at least one list) picks the epoch (0), the rest train (-1).
    assert set(one) <= {-1, 0} and (one == 0).sum() == max(1, round(0.2 * count))
    many = list_folds(count, FOLDS, seed=4)
    assert many.min() >= 0 and many.max() < FOLDS
    sizes = np.bincount(many, minlength=FOLDS)
    assert sizes.sum() == count and sizes.max() - sizes.min() <= 1
    np.testing.assert_array_equal(many, list_folds(count, FOLDS, seed=4))
    assert count < 7 or not np.array_equal(many, list_folds(count, FOLDS, seed=5))


class _FixedRetrieval:
    """A stand-in retrieval model: fixed scores per user over 12 items."""
    num_items = 12
    table = np.random.default_rng(3).normal(size=(30, 12)).astype(np.float32)

    def score(self, users):
        return tf.gather(self.table, users)


class _ValidationTargets:
    """A stand-in index: 30 validation users, each with one validation item and two seen ones."""
    users = np.arange(30)
    positives = [[int(u % 12)] for u in range(30)]
    exclude = [[int((u + 1) % 12), int((u + 5) % 12)] for u in range(30)]

    def targets(self, part, history):
        assert (part, history) == ("valid", ["train"])
        return self.users, self.positives, self.exclude


@pytest.mark.parametrize("folds", [1, FOLDS])
def test_validation_lists_train_on_lists_with_a_choice_and_score_each_holdout_user_by_its_fold(folds):
    (users, items, labels, fold), held, heads, counts = validation_lists(
        _FixedRetrieval(), _ValidationTargets(), 6, seed=0, folds=folds)
    expected = list_folds(30, folds, seed=0)
    # Each list: the user's 6 best unseen items, the validation item labelled; only found ones train.
    for user, row, label, f in zip(users, items, labels, fold):
        scores = _FixedRetrieval.table[user].copy()
        scores[_ValidationTargets.exclude[user]] = -np.inf
        np.testing.assert_array_equal(row, np.argsort(-scores, kind="stable")[:6])
        assert label.tolist() == [float(i == user % 12) for i in row] and label.sum() == 1
        assert f == expected[user]
    held_users = held[0]
    if folds == 1:
        # The fifth held out trains nothing and is scored by the one head.
        assert set(users).isdisjoint(held_users) and (heads == 0).all()
        np.testing.assert_array_equal(held_users, np.flatnonzero(expected == 0))
    else:
        # Every user picks the epoch, scored by the head that never learnt from their list.
        np.testing.assert_array_equal(held_users, np.arange(30))
        np.testing.assert_array_equal(heads, expected)
    assert counts == {"train_lists": len(users), "train_users": 30 - (folds == 1) * 6,
                      "holdout_users": len(held_users)}


def test_with_folds_every_validation_user_trains_and_picks_the_epoch(folds_run, rerank_run):
    from tfllmrec.recipes.trained_run import TrainedRun

    run_dir, metrics, _ = folds_run
    lists, one_fold = metrics["ranking"]["training"]["lists"], rerank_run[1]["ranking"]["training"]["lists"]
    validation_users = one_fold["train_users"] + one_fold["holdout_users"]
    assert lists["train_users"] == lists["holdout_users"] == validation_users
    assert one_fold["train_lists"] < lists["train_lists"] <= validation_users
    run = TrainedRun(run_dir)
    assert run.ranker.heads == FOLDS and len(run.ranker.more_heads) == FOLDS - 1
    # Served, the score is the heads' mean.
    user, items = tf.constant([run.user_index("u3")]), tf.constant([[0, 1, 2, 3]])
    np.testing.assert_allclose(run.ranker.score_candidates(user, items).numpy()[0],
                               run.ranker.head_scores(user, items).numpy()[:, 0].mean(0), atol=1e-5)
    assert_reranked_shortlist(run, "u0", 5, CANDIDATES)
    # EASE's weights are refitted to every interaction the run serves from.
    from tfllmrec.models.item_regression import PADDING_KEY, padded_ease_weights

    keys, weights = padded_ease_weights(run.seen, len(run.item_ids), 10.0, run.ranker.ease_items)
    assert "ease_score" in run.ranker.feature_names and (keys != PADDING_KEY).sum() > 10
    np.testing.assert_array_equal(run.ranker.ease_keys.numpy(), keys)
    np.testing.assert_allclose(run.ranker.ease_weights.numpy(), weights, atol=1e-6)
