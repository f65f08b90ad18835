"""The news recipe's reranking stage (ranking.objective=rerank): padded impression lists,
scores of any model measured per impression, a CandidateReranker trained on validation
impressions in the same run, its resume, `TrainedRun` and the export's `rank`."""

import json

import numpy as np
import pytest
import tensorflow as tf

from test_impression_run import overrides, write_tiny_news
from testing import assert_reranked_shortlist, interrupted_copy
from tfllmrec.errors import ConfigError
from tfllmrec.evaluation import ImpressionEvaluator
from tfllmrec.models import CandidateReranker
from tfllmrec.recipes import get_recipe, with_overrides
from tfllmrec.recipes.pipeline import train_recipe
from tfllmrec.tasks import ImpressionTask, task_for
from tfllmrec.tasks.impression_rerank import impression_scores
from tfllmrec.tasks.rerank import reranker_sample

KS = (3, 5, 6, 10)
TOP_K, RANK_CANDIDATES = 3, 10
EPOCHS, RANK_EPOCHS = 6, 8
RERANK = ["eval.baselines=[ctr]", "ranking.enabled=true", "ranking.objective=rerank", "ranking.baselines=[]",
          "ranking.hidden_units=[8]", f"ranking.train.epochs={RANK_EPOCHS}", "ranking.train.batch_size=16",
          "ranking.train.learning_rate=0.01", f"export.rank_candidates={RANK_CANDIDATES}",
          f"export.top_k={TOP_K}"]


def write_uneven_news(folder):
    """`write_tiny_news`'s NeMig folder, its impressions made uneven: 1 to 6 candidates,
    some with two clicks, some without a click and some with clicks only."""
    write_tiny_news(folder)
    path = folder / "behaviors.tsv"
    rows = []
    for j, row in enumerate(path.read_bytes().decode().split("\r\n")[:-1]):
        ident, user, history, shown = row.split("\t")
        tokens = shown.split()
        clicked = [t for t in tokens if t.endswith("-1")]
        others = [t for t in tokens if t.endswith("-0")]
        topic = int(clicked[0][len("news_"):-2]) % 4
        extra = [f"news_{i}-0" for i in range(40) if i % 4 != topic and f"news_{i}-0" not in others]
        kind = j % 10
        if kind == 1:
            tokens = clicked + others[:1]  # 2 candidates
        elif kind == 2:
            tokens = clicked + [others[0][:-1] + "1"] + others[1:]  # two clicks
        elif kind == 3:
            tokens = others[:1] + clicked + others[1:] + extra[:2]  # 6 candidates
        elif kind == 4:
            tokens = [t[:-1] + "0" for t in tokens]  # no click
        elif kind == 6:
            tokens = tokens + extra[:1]  # 5 candidates
        elif kind == 7:
            tokens = clicked  # a click only
        elif kind == 9:
            tokens = [others[0][:-1] + "1"] + clicked  # 2 candidates, both clicked
        rows.append("\t".join([ident, user, history, " ".join(tokens)]))
    path.write_text("\r\n".join(rows) + "\r\n")
    return folder


def _config(folder):
    return with_overrides(get_recipe("news"), overrides(folder, epochs=EPOCHS) + RERANK)


@pytest.fixture(scope="module")
def news_data(tmp_path_factory):
    folder = write_uneven_news(tmp_path_factory.mktemp("uneven_nemig") / "en")
    task = task_for(_config(folder))
    task.prepare()
    return folder, task.data


@pytest.fixture(scope="module")
def rerank_run(news_data, tmp_path_factory):
    folder, _ = news_data
    run_dir = tmp_path_factory.mktemp("runs") / "news_rerank"
    return run_dir, train_recipe(_config(folder), run_dir, verbose=0)


def _part_flat(data, part):
    p = data.parts[part]
    return [(p.users[i], p.items[p.offsets[i]:p.offsets[i + 1]], p.labels[p.offsets[i]:p.offsets[i + 1]])
            for i in range(p.size)]


def test_lists_hold_each_impression_in_order_padded_to_the_longest(news_data):
    _, data = news_data
    sizes_seen = set()
    for part in ("train", "valid", "test"):
        users, items, labels = data.lists(part)
        flat = _part_flat(data, part)
        sizes = [len(row_items) for _, row_items, _ in flat]
        sizes_seen |= set(sizes)
        assert users.shape == (len(flat),) and items.shape == labels.shape == (len(flat), max(sizes))
        for row, (user, row_items, row_labels) in enumerate(flat):
            n = len(row_items)
            assert users[row] == user
            np.testing.assert_array_equal(items[row, :n], row_items)
            np.testing.assert_array_equal(labels[row, :n], row_labels)
            assert (items[row, n:] == -1).all() and (labels[row, n:] == 0).all()
        # Real candidates are item indices, the padding only -1; labels are 0/1.
        assert (items[items >= 0] < data.num_items).all() and set(np.unique(labels)) <= {0.0, 1.0}
        assert (items >= 0).sum() == len(data.parts[part].items)
    # The data is uneven as written: 1 to 6 candidates an impression.
    assert {1, 2, 4, 6} <= sizes_seen and max(sizes_seen) == 6


def _mrr(scores, labels):
    order = np.argsort(-np.asarray(scores), kind="stable")
    ranks = np.flatnonzero(np.asarray(labels)[order] == 1) + 1
    return float(np.mean(1.0 / ranks))


def test_evaluate_scores_measures_any_scores_and_a_subset_of_impressions(news_data):
    _, data = news_data
    rng = np.random.default_rng(3)
    user_vectors = rng.normal(size=(data.num_users, 4))
    item_vectors = rng.normal(size=(data.num_items, 4))
    offsets = rng.normal(size=data.num_items)
    for part in ("valid", "test"):
        users, items, labels = data.lists(part)
        # The dot products laid out as lists, padding left out: the part's flat order.
        grid = np.einsum("nd,nmd->nm", user_vectors[users], item_vectors[np.maximum(items, 0)])
        grid += offsets[np.maximum(items, 0)]
        scores = grid[items >= 0]
        want = data.evaluate(part, user_vectors, item_vectors, KS, score_offset=offsets)
        got = data.evaluate_scores(part, scores, KS)
        assert got.keys() == want.keys() == {"auc", "mrr", "impressions"} | {f"ndcg@{k}" for k in KS}
        for key in want:
            assert got[key] == pytest.approx(want[key], abs=1e-12), (part, key)
        assert got["impressions"] == int((labels.sum(1) > 0).sum())

        # A subset: impressions with a click, one without (not counted) and one with clicks only.
        clicks, shown = labels.sum(1), (items >= 0).sum(1)
        mixed = np.flatnonzero((clicks > 0) & (clicks < shown))[:5]
        none, only = np.flatnonzero(clicks == 0)[:1], np.flatnonzero(clicks == shown)[:1]
        assert len(mixed) == 5 and len(none) == 1 and len(only) == 1, part
        subset = np.concatenate([mixed, none, only])
        some = data.evaluate_scores(part, scores, KS, impressions=subset)
        assert some["impressions"] == 6
        rows = [(grid[i, :shown[i]], labels[i, :shown[i]]) for i in subset]
        by_hand = ImpressionEvaluator().evaluate(rows, ks=KS)
        for key in by_hand:
            assert some[key] == pytest.approx(by_hand[key], abs=1e-12), (part, key)
        # mrr by hand over the six with a click; auc over the five with a click and a non-click.
        assert some["mrr"] == pytest.approx(np.mean([_mrr(*rows[r]) for r in (0, 1, 2, 3, 4, 6)]), abs=1e-12)
        aucs = [np.mean([(s_pos > s_neg) + 0.5 * (s_pos == s_neg) for s_pos in s[y == 1] for s_neg in s[y == 0]])
                for s, y in rows[:5]]
        assert some["auc"] == pytest.approx(np.mean(aucs), abs=1e-12)
        assert some["auc"] != pytest.approx(got["auc"], abs=1e-9)  # the subset is what was measured


def test_impression_scores_are_one_per_real_candidate_in_list_order(news_data):
    _, data = news_data
    users, items, _ = data.lists("test")
    reranker = CandidateReranker(num_users=data.num_users, num_items=data.num_items, embedding_dim=4,
                                 item_bias=True, hidden_units=(4,))
    reranker(reranker_sample())  # builds the layers
    rng = np.random.default_rng(0)
    reranker.user_vectors.assign(rng.normal(size=(data.num_users, 4)).astype(np.float32))
    reranker.item_vectors.assign(rng.normal(size=(data.num_items, 4)).astype(np.float32))
    reranker.item_offsets.assign(rng.normal(size=data.num_items).astype(np.float32))
    reranker.log_item_counts.assign(np.log1p(data.trained_items()).astype(np.float32))
    scores = impression_scores(reranker, users, items, batch=7)  # batches across the rows
    assert scores.shape == ((items >= 0).sum(),)
    start = 0
    for row in range(len(users)):
        real = items[row][items[row] >= 0]
        # Each row alone, without padding: the padding changes no real candidate's score.
        want = reranker.score_candidates(tf.constant([users[row]], tf.int32),
                                         tf.constant(real[None], tf.int32)).numpy()[0]
        np.testing.assert_allclose(scores[start:start + len(real)], want, rtol=1e-5, atol=1e-6)
        start += len(real)
    assert start == len(scores) and np.ptp(scores) > 1e-3


def test_the_run_reports_reranked_test_metrics_beside_ours(rerank_run, news_data):
    _, metrics = rerank_run
    _, data = news_data
    ranking, ours = metrics["ranking"], metrics["test"]
    assert set(ranking["test"]) == set(ours) == {"auc", "mrr", "impressions"} | {f"ndcg@{k}" for k in KS}
    assert ranking["test"]["impressions"] == ours["impressions"] == int((data.lists("test")[2].sum(1) > 0).sum())
    assert all(0 <= value <= 1 for key, value in ranking["test"].items() if key != "impressions")
    # The reranker reads ours' scores, the prior and the topic of the recent clicks: it ranks
    # the clicks first more often than ours or the prior alone (0.91 against 0.79 and 0.56 here).
    assert ranking["test"]["auc"] > max(ours["auc"], metrics["baselines"]["ctr"]["test"]["auc"]) + 0.05
    assert ranking["test"]["mrr"] > ours["mrr"]
    assert set(metrics["baselines"]) == {"ctr"}

    training = ranking["training"]
    lists, valid = training["lists"], metrics["split"]["valid"]
    _, items, labels = data.lists("valid")
    clicks, shown = labels.sum(1), (items >= 0).sum(1)
    teaching = int(((clicks > 0) & (clicks < shown)).sum())
    # Of the impressions with a click and a non-click, 20% pick the epoch and the rest train it.
    assert valid == len(items) and teaching < valid
    assert lists["holdout_impressions"] == round(0.2 * teaching)
    assert lists["train_lists"] == teaching - lists["holdout_impressions"]
    assert 1 <= training["best_epoch"] <= training["epochs_run"] <= RANK_EPOCHS
    assert len(training["valid_history"]) == training["epochs_run"]
    assert set(training["valid"]) == set(ours)
    # The holdout impressions are what picked the epoch.
    assert training["valid"]["impressions"] == lists["holdout_impressions"]
    assert json.loads((rerank_run[0] / "metrics.json").read_text())["ranking"] == ranking


def test_the_summary_has_a_reranked_row(rerank_run):
    run_dir, metrics = rerank_run
    lines = ImpressionTask.summary_lines(json.loads((run_dir / "metrics.json").read_text()), KS)
    assert lines[0].split() == ["model", "AUC", "MRR", "NDCG@5", "NDCG@10"]
    rows = {line[:14].strip(): line[14:].split() for line in lines[1:]}
    assert list(rows) == ["ours", "ctr", "ours, reranked"]
    for name, test in (("ours", metrics["test"]), ("ctr", metrics["baselines"]["ctr"]["test"]),
                       ("ours, reranked", metrics["ranking"]["test"])):
        assert rows[name] == [f"{test[key]:.4f}" for key in ("auc", "mrr", "ndcg@5", "ndcg@10")]


def test_an_interrupted_run_resumes_with_the_same_reranking_results(rerank_run, news_data, tmp_path):
    run_dir, metrics = rerank_run
    folder, _ = news_data
    # Killed after the reranker's last epoch, before its test metrics were kept.
    copy, done = interrupted_copy(run_dir, tmp_path, "ranking")
    assert done == {"main", "ctr"}
    resumed = train_recipe(_config(folder), copy, verbose=0)
    assert resumed["ranking"] == metrics["ranking"]
    assert resumed["test"] == metrics["test"]


def test_the_trained_reranker_gives_the_run_s_test_metrics_again(rerank_run, news_data):
    from tfllmrec.recipes.trained_run import TrainedRun

    run_dir, metrics = rerank_run
    _, data = news_data
    run = TrainedRun(run_dir)
    assert isinstance(run.ranker, CandidateReranker)
    # Ours' click-through-rate prior is one of its features.
    assert run.model.item_bias and "item_offset" in run.ranker.feature_names
    # ranking.use_text and ranking.pair_window (3) are on: the text and co-click features too.
    assert {"text_cos_last", "log_pairs_last"} <= set(run.ranker.feature_names)
    np.testing.assert_allclose(run.ranker.item_offsets.numpy(), run.model.offsets(), atol=1e-6)
    # Users as training saw them (their histories, not the clicks of every part).
    run.model.user_tower.set_history(data.histories)
    run.ranker.follow(run.model, data.histories)
    users, items, _ = data.lists("test")
    again = data.evaluate_scores("test", impression_scores(run.ranker, users, items), KS)
    assert again["impressions"] == metrics["ranking"]["test"]["impressions"]
    for key, value in metrics["ranking"]["test"].items():
        assert again[key] == pytest.approx(value, abs=1e-6), key


def test_trained_run_reorders_the_retrieved_shortlist_and_exports_rank(rerank_run, tmp_path):
    from tfllmrec.recipes.export_run import export_run
    from tfllmrec.recipes.trained_run import TrainedRun

    run_dir, _ = rerank_run
    run = TrainedRun(run_dir)
    user = run.user_index("U0")
    ranked = assert_reranked_shortlist(run, "U0", TOP_K, RANK_CANDIDATES)
    position = {item: i for i, item in enumerate(run.item_ids)}

    path = export_run(str(run_dir), str(tmp_path / "news_rerank"), retrieval_only=True)
    loaded = tf.saved_model.load(path)
    assert {"rank", "recommend_ranked"} <= set(loaded.signatures)
    ids = [["news_0", "news_1", "news_2", "news_7"], ["news_3", "news_3", "news_0", "news_39"]]
    served = loaded.signatures["rank"](user_id=tf.constant(["U0", "U5"]), item_ids=tf.constant(ids))["scores"]
    expected = run.ranker.score_candidates(tf.constant([user, run.user_index("U5")], tf.int32),
                                           tf.constant([[position[i] for i in row] for row in ids], tf.int32))
    np.testing.assert_allclose(served.numpy(), expected.numpy(), atol=1e-4)
    assert np.ptp(expected.numpy()[0]) > 1e-3  # the scores tell the news apart
    two_stages = loaded.signatures["recommend_ranked"](user_id=tf.constant(["U0"]))
    assert [i.decode() for i in two_stages["item_ids"].numpy()[0]] == [item for item, _, _ in ranked]
    np.testing.assert_allclose(two_stages["scores"].numpy()[0], [score for _, _, score in ranked], atol=1e-4)


def test_an_id_only_ours_still_gives_the_reranker_its_text_features(news_data, tmp_path):
    """ranking.use_text=true (the default) gives the reranker the items' frozen text, as in the
    retrieval recipes, whether or not ours reads text."""
    from tfllmrec.recipes.trained_run import TrainedRun

    folder, _ = news_data
    config = with_overrides(_config(folder), ["model.use_text=false", "model.history_pooling=ids",
                                              "model.use_user_ids=true", "train.epochs=1",
                                              "ranking.train.epochs=1"])
    assert config.ranking.use_text and "nrms" not in config.eval.baselines
    train_recipe(config, tmp_path / "id_only", verbose=0)
    features = TrainedRun(tmp_path / "id_only").ranker.feature_names
    assert {"text_cos_last", "text_cos_recent", "text_max_cos_recent"} <= set(features), features


def test_news_ranking_with_the_rating_objective_names_the_fix():
    with pytest.raises(ConfigError, match=r"ranking\.objective='rating'.*ranking\.objective=rerank"):
        with_overrides(get_recipe("news"), ["ranking.enabled=true"])
    rerank = with_overrides(get_recipe("news"), ["ranking.enabled=true", "ranking.objective=rerank",
                                                 "ranking.baselines=[]"])
    assert [phase.name for phase in task_for(rerank).phases()][-1] == "ranking"


@pytest.fixture(scope="module")
def folds_run(news_data, tmp_path_factory):
    folder, _ = news_data
    run_dir = tmp_path_factory.mktemp("runs") / "news_folds"
    return run_dir, train_recipe(with_overrides(_config(folder), ["ranking.folds=3"]), run_dir, verbose=0)


def test_with_folds_every_mixed_impression_trains_and_picks_the_epoch(folds_run, news_data):
    from tfllmrec.recipes.trained_run import TrainedRun

    run_dir, metrics = folds_run
    _, data = news_data
    _, items, labels = data.lists("valid")
    clicks, shown = labels.sum(1), (items >= 0).sum(1)
    teaching = int(((clicks > 0) & (clicks < shown)).sum())
    training = metrics["ranking"]["training"]
    # Each is scored by the head that never learnt from it, so all of them pick the epoch.
    assert training["lists"] == {"train_lists": teaching, "holdout_impressions": teaching}
    assert training["valid"]["impressions"] == teaching
    assert metrics["ranking"]["test"]["auc"] > metrics["baselines"]["ctr"]["test"]["auc"] + 0.05
    run = TrainedRun(run_dir)
    assert run.ranker.heads == 3
    run.model.user_tower.set_history(data.histories)
    run.ranker.follow(run.model, data.histories)
    users, test_items, _ = data.lists("test")
    # The heads' mean scores the test impressions.
    again = data.evaluate_scores("test", impression_scores(run.ranker, users, test_items), KS)
    for key, value in metrics["ranking"]["test"].items():
        assert again[key] == pytest.approx(value, abs=1e-6), key
