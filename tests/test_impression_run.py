"""The news recipe end to end on a tiny NeMig-format folder: metrics, resume, recommend, export."""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO
from tfllmrec.recipes import get_recipe, to_yaml, with_overrides
from tfllmrec.recipes.pipeline import train_recipe
from tfllmrec.recipes.run_folder import REVISIONS
from tfllmrec.tasks import ImpressionTask, task_for

TOPICS = ["football match goal", "election vote senate", "recipe kitchen bake", "stock market shares"]


def write_tiny_news(folder, users=48, seed=0):
    """User u reads topic u % 4 (history) and clicks the one candidate of that topic.

    One topic-0 article is clicked in most impressions it is shown in, so
    popularity has some signal too; the text carries all of it.
    """
    rng = np.random.default_rng(seed)
    news = [f"news_{i}\t{TOPICS[i % 4]} story {i}\tabout {TOPICS[i % 4]}\t\t\t{TOPICS[i % 4].split()[0]}"
            f"\tNeutral\tleft" for i in range(40)]
    rows = []
    for u in range(users):
        topic = u % 4
        history = " ".join(f"news_{i}" for i in rng.choice(np.arange(topic, 40, 4), 3, replace=False))
        if u % 12 == 11:
            history = ""  # left out, as NeMig's authors do
        for k in range(5):
            clicked = int(rng.choice(np.arange(topic, 40, 4)))
            others = rng.choice([i for i in range(40) if i % 4 != topic], 3, replace=False)
            shown = [f"news_{clicked}-1"] + [f"news_{i}-0" for i in others]
            rng.shuffle(shown)
            rows.append(f"{1000 + 5 * u + k}\tU{u}\t{history}\t{' '.join(shown)}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "news.tsv").write_text("\n".join(news) + "\n")
    (folder / "behaviors.tsv").write_text("\r\n".join(rows) + "\r\n")
    return folder


def overrides(folder, epochs=4):
    return [f"data.path={folder}", "data.ratios=[0.6, 0.2, 0.2]", "model.encoder=tiny-random",
            "model.sequence_length=16", f"train.epochs={epochs}", f"baseline_train.epochs={epochs}",
            "train.batch_size=32", "baseline_train.batch_size=32", "train.learning_rate=0.01",
            "baseline_train.learning_rate=0.01"]


@pytest.fixture(scope="module")
def news_run(tmp_path_factory):
    folder = write_tiny_news(tmp_path_factory.mktemp("nemig") / "en")
    config = with_overrides(get_recipe("news"), overrides(folder))
    out = tmp_path_factory.mktemp("runs") / "news"
    return config, out, train_recipe(config, out, verbose=0)


def test_metrics_have_mind_keys_baselines_and_split(news_run):
    config, out, metrics = news_run
    keys = {"auc", "mrr", "ndcg@3", "ndcg@5", "ndcg@6", "ndcg@10", "impressions"}
    assert set(metrics["test"]) == keys
    assert set(metrics["baselines"]) == {"popularity", "ctr", "id_two_tower", "nrms"}
    for baseline in metrics["baselines"].values():
        assert set(baseline["test"]) == keys
    # 240 impressions, 20 of users without history dropped; 60% of 220, then half the rest.
    assert metrics["split"] == {"train": 132, "valid": 44, "test": 44, "dropped_empty_history": 20}
    assert metrics["test"]["impressions"] == 44  # every impression has one click
    assert json.loads((out / "metrics.json").read_text())["test"] == metrics["test"]
    assert metrics["training"]["best_epoch"] >= 1 and metrics["valid"] == metrics["training"]["valid"]
    assert metrics["baselines"]["nrms"]["settings"]["num_heads"] >= 1
    lines = ImpressionTask.summary_lines(metrics, config.eval.ks)
    assert lines[0].split() == ["model", "AUC", "MRR", "NDCG@5", "NDCG@10"]
    assert [line.split()[0] for line in lines[1:]] == ["ours", "popularity", "ctr", "id_two_tower", "nrms"]
    assert float(lines[1].split()[1]) == pytest.approx(metrics["test"]["auc"], abs=5e-5)


def test_history_text_is_learned(news_run):
    from tfllmrec.recipes.trained_run import TrainedRun
    from tfllmrec.tasks.task import query_vectors

    config, out, metrics = news_run
    task = task_for(config)
    task.prepare()
    data = task.data
    run = TrainedRun(out)
    run.model.user_tower.set_history(data.histories)  # as in training
    # The towers alone, without the click-through-rate prior: topic words in the
    # text tell the click apart (chance is 0.5).
    towers = data.evaluate("test", query_vectors(run.model, data.num_users), run.model.candidates().numpy(),
                           config.eval.ks)
    assert towers["auc"] > 0.75
    assert metrics["test"]["auc"] > metrics["baselines"]["popularity"]["test"]["auc"]


def test_unfinished_run_resumes_without_retraining_finished_phases(news_run, tmp_path):
    config, out, metrics = news_run
    progress = json.loads((out / "progress.json").read_text())
    assert set(progress) == {REVISIONS, "main", "popularity", "ctr", "id_two_tower", "nrms"}
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "metrics.json").unlink()
    del progress["nrms"]
    (copy / "progress.json").write_text(json.dumps(progress))
    again = train_recipe(config, copy, verbose=0)
    assert again["test"] == metrics["test"]  # `main` was not retrained
    nrms, before = again["baselines"]["nrms"], metrics["baselines"]["nrms"]
    assert nrms["training"]["epochs_run"] == before["training"]["epochs_run"]
    # The NRMS checkpoint's state says it finished: the phase reloads its best epoch.
    assert nrms["test"] == pytest.approx(before["test"], abs=1e-6)


def test_trained_run_recommends_evaluates_and_exports(news_run, tmp_path):
    from tfllmrec.recipes.export_run import export_run
    from tfllmrec.recipes.trained_run import TrainedRun

    config, out, metrics = news_run
    run = TrainedRun(out)
    assert run.user_ids.tolist() == sorted(run.user_ids.tolist())
    seen = run.seen[run.user_index("U0")]
    top = run.recommend_for_user("U0", k=5)
    assert len(top) == 5 and not {run.item_ids.tolist().index(i) for i, _, _ in top} & set(seen)
    assert [s for _, _, s in top] == sorted([s for _, _, s in top], reverse=True)
    scores = run.model.score(tf.constant([run.user_index("U0")])).numpy()[0]
    topic = np.array([t.startswith(TOPICS[0]) for t in run.item_texts])
    assert scores[topic].mean() > scores[~topic].mean()  # U0 reads topic 0
    again = run.evaluate()
    assert again["auc"] == pytest.approx(metrics["test"]["auc"], abs=1e-6)
    path = export_run(out, tmp_path / "saved" / "news", retrieval_only=True)
    assert (tmp_path / "saved" / "news" / "1" / "saved_model.pb").is_file() and path.endswith("1")
    assert "name: 'news'" in (tmp_path / "saved" / "models.config").read_text()


def _train_click_rates(config, strength):
    """Smoothed click-through rate per news id, counted here from the split's frames."""
    from collections import Counter

    from tfllmrec.data import impression_split
    from tfllmrec.data import load_dataset

    dataset = load_dataset(config.data)
    train = impression_split(dataset, config.data.ratios, config.data.split_seed,
                             drop_empty_history=True).train
    shown, clicks = Counter(), Counter()
    for candidates, labels in zip(train["candidates"], train["labels"]):
        shown.update(candidates)
        clicks.update(c for c, y in zip(candidates, labels) if y)
    rate = sum(clicks.values()) / sum(shown.values())
    return {i: np.log((clicks[i] + strength * rate) / (shown[i] + strength))
            for i in dataset.items.ids}, np.log(rate)


def test_click_through_rate_prior_is_in_scores_baseline_and_export(news_run, tmp_path):
    from tfllmrec.recipes.export_run import export_run
    from tfllmrec.recipes.trained_run import TrainedRun

    config, out, metrics = news_run
    assert (config.model.ctr_prior_weight, config.model.ctr_prior_strength) == (4.0, 40.0)
    rates, log_overall = _train_click_rates(config, 40.0)
    run = TrainedRun(out)
    scale = 4.0 * config.model.temperature  # logits are dot products over the temperature
    want = np.array([rates[i] for i in run.item_ids]) * scale
    np.testing.assert_allclose(run.model.offsets(), want, rtol=1e-5)
    assert float(run.model.new_item_offset.numpy()) == pytest.approx(scale * log_overall, rel=1e-5)
    assert metrics["baselines"]["ctr"]["strength"] == 40.0

    # Serving adds the prior to the dot products; so does the model's own score().
    user = run.user_index("U0")
    dots = run.item_vectors() @ run.model.query(tf.constant([user])).numpy()[0]
    np.testing.assert_allclose(run.model.score(tf.constant([user])).numpy()[0], dots + want, atol=1e-5)
    top = run.recommend_for_user("U0", k=5)
    index = {item: k for k, item in enumerate(run.item_ids)}
    for item, _, score in top:
        assert score == pytest.approx(dots[index[item]] + want[index[item]], abs=1e-5)
    # An item added after training was never shown: it gets the prior of the overall rate.
    run.add_items(["news_new"], ["football match goal extra"])
    assert run.item_offsets()[-1] == pytest.approx(scale * log_overall, rel=1e-5)
    export_run(out, tmp_path / "news", retrieval_only=True)
    served = tf.saved_model.load(str(tmp_path / "news" / "1")).signatures["recommend_k"](
        user_id=tf.constant(["U0"]), k=tf.constant(5))
    assert [i.decode() for i in served["item_ids"].numpy()[0]] == [i for i, _, _ in top]
    np.testing.assert_allclose(served["scores"].numpy()[0], [s for _, _, s in top], atol=1e-5)


def test_ctr_prior_and_impression_baselines_need_impressions():
    video = get_recipe("video")
    with pytest.raises(ValueError, match="ctr_prior_weight needs impressions"):
        with_overrides(video, ["model.ctr_prior_weight=1"])
    with pytest.raises(ValueError, match=r"eval.baselines \['ctr'\] need impressions"):
        with_overrides(video, ["eval.baselines=[popularity, ctr]"])
    with pytest.raises(ValueError, match=r"model\.ctr_prior_strength must be positive \(a number > 0\), got 0\.0"):
        with_overrides(get_recipe("news"), ["model.ctr_prior_strength=0"])


def test_news_recipe_config_and_zoo_folder():
    news = get_recipe("news")
    assert (news.data.dataset, news.data.split, news.eval.monitor) == ("nemig", "impressions", "auc")
    assert news.eval.ks == (3, 5, 6, 10) and "nrms" in news.eval.baselines
    assert (REPO / "zoo" / "news" / "config.yaml").read_text() == to_yaml(news)
    assert get_recipe(str(REPO / "zoo" / "news")) == news
