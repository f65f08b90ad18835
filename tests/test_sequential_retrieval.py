"""`SequentialRetrieval` and the sequential phases of a retrieval recipe (`sequence:`, "sasrec_*" baselines)."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_recipe_overrides, write_tiny_dataset
from testing import TestCase
from tfllmrec.errors import ConfigError
from tfllmrec.models import SequentialRetrieval
from tfllmrec.models.sequential_retrieval import latest_items
from tfllmrec.recipes import get_recipe, with_overrides
from tfllmrec.recipes.pipeline import train_recipe
from tfllmrec.tasks.sequential import training_sequences

NUM_ITEMS = 12
TINY = dict(num_users=4, num_items=NUM_ITEMS, embedding_dim=16, max_length=6, num_layers=1, dropout=0.0,
            temperature=0.1)


def cycle_sequences(count=64, length=7, seed=0):
    """Item i is always followed by i + 1 (mod NUM_ITEMS): a rule only the order tells."""
    starts = np.random.default_rng(seed).integers(0, NUM_ITEMS, count)
    return ((starts[:, None] + np.arange(length)[None, :]) % NUM_ITEMS).astype(np.int32)


def fitted(model, steps=150):
    model.set_training_data(np.ones(NUM_ITEMS), [[0], [3, 4], [7, 8, 9], []])
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01))
    data = tf.data.Dataset.from_tensor_slices({"sequence": cycle_sequences()}).repeat().batch(16)
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return model


class SequentialRetrievalTest(TestCase):
    def test_config_round_trips(self):
        model = SequentialRetrieval(text_dim=5, use_item_ids=False, **TINY)
        revived = self.run_serialization_test(model)
        assert revived.get_config()["use_item_ids"] is False and revived.text_dim == 5
        # Item-id dropout applies where ids and text meet: an id-only item would be nothing.
        hybrid = self.run_serialization_test(SequentialRetrieval(text_dim=5, id_dropout=0.3, **TINY))
        assert hybrid.item_tower.id_dropout == 0.3 and hybrid.get_config()["id_dropout"] == 0.3
        assert SequentialRetrieval(id_dropout=0.3, **TINY).item_tower.id_dropout == 0.0


def test_latest_items_keep_the_newest_left_padded():
    table = latest_items([[1, 2, 3, 4], [5], []], 3, 4)
    assert table.tolist() == [[2, 3, 4], [-1, -1, 5], [-1, -1, -1], [-1, -1, -1]]
    # A user with one item has nothing to predict from: no training sequence.
    features = training_sequences([[1, 2, 3], [4], [5, 6]], 2)
    assert features["sequence"].tolist() == [[1, 2, 3], [-1, 5, 6]] and features["user"].tolist() == [0, 2]


@pytest.mark.parametrize("text", [False, True])
def test_it_learns_what_comes_next_from_ids_or_from_text_alone(text):
    tf.keras.utils.set_random_seed(0)  # unseeded, the text-only model missed once in about ten runs
    table = np.random.default_rng(1).normal(size=(NUM_ITEMS, 8)).astype("float32")
    model = SequentialRetrieval(text_dim=8 if text else None, use_item_ids=not text, **TINY)
    if text:
        model.item_tower.set_text_table(table)
    fitted(model)
    assert (model.item_tower.ids is None) == text  # ID-free: nothing is learned per item id
    top = np.argmax(model.score(tf.constant([1, 2])).numpy(), axis=1)
    assert top.tolist() == [5, 10]  # after 3, 4 comes 5; after 7, 8, 9 comes 10


def test_weights_and_histories_restore_into_a_twin(tmp_path):
    model = fitted(SequentialRetrieval(**TINY), steps=20)
    model.save_weights(str(tmp_path / "ckpt"))
    twin = SequentialRetrieval(**TINY)
    twin.score(tf.constant([0]))  # creates the variables
    twin.load_weights(str(tmp_path / "ckpt")).assert_existing_objects_matched()
    np.testing.assert_array_equal(twin.user_history.numpy(), model.user_history.numpy())
    np.testing.assert_allclose(twin.score(tf.constant([0, 1, 2])).numpy(), model.score(tf.constant([0, 1, 2])).numpy(),
                               atol=1e-6)


def test_items_unseen_in_training_are_no_negatives():
    model = SequentialRetrieval(**TINY)
    counts = np.ones(NUM_ITEMS)
    counts[11] = 0
    model.set_training_data(counts, [[0, 1]] * 4)
    sequences = tf.constant(cycle_sequences(8) % 11)  # item 11 is in no sequence
    before = float(model.compute_loss({"sequence": sequences}))
    # A twin of item 1, item 11 would take half the softmax's mass wherever 1 is the target, were it a negative.
    table = model.item_tower.ids.embeddings
    table.assign(tf.tensor_scatter_nd_update(table, [[11]], table[1:2]))
    assert float(model.compute_loss({"sequence": sequences})) == pytest.approx(before, rel=1e-5)
    counts[11] = 1
    model.set_training_data(counts, [[0, 1]] * 4)
    assert float(model.compute_loss({"sequence": sequences})) != pytest.approx(before, rel=1e-3)


def test_an_id_free_model_needs_text():
    with pytest.raises(ValueError, match="use_item_ids=False needs item text"):
        SequentialRetrieval(use_item_ids=False, **TINY)


def sequential_config(folder):
    return with_overrides(get_recipe("video"), tiny_recipe_overrides(folder, epochs=1) + [
        "eval.baselines=[popularity, sasrec_id, sasrec_text]", "data.split=leave_one_out",
        "data.cold_start_fraction=0", "sequence.train.epochs=15", "sequence.max_length=8",
        "sequence.embedding_dim=16", "sequence.train.learning_rate=0.01"])


@pytest.fixture(scope="module")
def sequential_data(tmp_path_factory):
    return write_tiny_dataset(tmp_path_factory.mktemp("seq_data"))


@pytest.fixture(scope="module")
def sequential_run(tmp_path_factory, sequential_data):
    run_dir = tmp_path_factory.mktemp("runs") / "seq"
    train_recipe(sequential_config(sequential_data), run_dir, verbose=0)
    return run_dir


@pytest.fixture(scope="module")
def sequential_metrics(sequential_run):
    import json

    return json.loads((sequential_run / "metrics.json").read_text())


def test_the_run_measures_the_sequential_models_beside_ours(sequential_metrics):
    baselines = sequential_metrics["baselines"]
    assert set(baselines) == {"popularity", "sasrec_id", "sasrec_text"}
    for name in ("sasrec_id", "sasrec_text"):
        # 4 of the 40 users (sequence.held_out_users 0.1) are left out of training.
        assert baselines[name]["training"]["sequences"] == 36 and baselines[name]["training"]["best_epoch"] >= 1
        new = baselines[name]["test_new_users"]
        assert new["users"] == 4 and set(new) == {"users", "ours", "popularity", "item_knn"}
        # Item-kNN reads the same first half: its group's items are the neighbours of its items.
        assert new["item_knn"]["recall@10"] > 2 * new["popularity"]["recall@10"], new
    # Each user picks items of one group of four: the history says which (seen: 0.375 for SASRec-ID
    # against popularity's 0.075, from 36 sequences of 11 items).
    assert baselines["sasrec_id"]["test"]["recall@10"] > 3 * baselines["popularity"]["test"]["recall@10"]


def test_new_users_are_served_from_the_first_half_of_their_clicks(sequential_metrics):
    from tfllmrec.tasks import RetrievalTask
    from tfllmrec.tasks.new_users import first_and_second_halves, held_out_users, without_users

    rows, given, wanted = first_and_second_halves([[1, 2, 3, 4, 5], [7], [8, 9, 8]])
    # The second half, less what the first half holds; a one-item history has no second half to find.
    assert rows.tolist() == [0, 2] and given == [[1, 2], [8]] and [w.tolist() for w in wanted] == [[3, 4, 5], [9]]
    assert held_out_users(40, 0.1, 2020).sum() == 4
    assert held_out_users(40, 0.1, 2020).tolist() == held_out_users(40, 0.1, 2020).tolist()
    # The held-out users leave the known users' validation and test rows.
    targets = (np.array([0, 2, 3]), [np.array([5]), np.array([6]), np.array([7])], [np.array([1])] * 3)
    users, positives, exclude = without_users(targets, np.array([False, False, True, False]))
    assert users.tolist() == [0, 3] and [p.tolist() for p in positives] == [[5], [7]] and len(exclude) == 2
    lines = RetrievalTask.summary_lines(sequential_metrics, (5, 10, 20))
    assert any(line.startswith("new users") for line in lines)
    assert sum(line.strip().startswith("popularity (4)") for line in lines) == 2
    assert sum(line.strip().startswith("item-kNN (4)") for line in lines) == 2


def test_the_export_serves_the_sequential_model_by_history(sequential_run, tmp_path):
    from tfllmrec.cli import main
    from tfllmrec.recipes.export_run import export_run
    from tfllmrec.recipes.trained_sequential import load_sequential
    from tfllmrec.serving import LoadedModel

    path = export_run(str(sequential_run), str(tmp_path / "seq"), retrieval_only=True, history_model="sasrec_id")
    loaded = tf.saved_model.load(path)
    assert {"serving_default", "recommend_k", "recommend_by_history"} <= set(loaded.signatures)
    out = loaded.signatures["recommend_by_history"](item_ids=tf.constant([["i0", "i4", "i8"]]))
    # The restored model gives the served scores: one definition, the model's query and item vectors.
    from tfllmrec.recipes.trained_run import TrainedRun

    run = TrainedRun(sequential_run)
    model = load_sequential(run.run_dir, run.config, "sasrec_id", len(run.user_ids), len(run.item_ids))
    position = {item: i for i, item in enumerate(run.item_ids)}
    history = tf.constant([[-1] * (model.max_length - 3) + [position[i] for i in ("i0", "i4", "i8")]])
    scores = tf.matmul(model.query_for_history(history), model.candidates(), transpose_b=True).numpy()[0]
    best = [position[i] for i in out["item_ids"].numpy()[0].astype(str)]
    np.testing.assert_allclose(out["scores"].numpy()[0], scores[best], atol=1e-5)
    # Through TF Serving's session loader, its warm-up request replayed.
    LoadedModel.load("seq", 2, path)
    assert main(["export", str(sequential_run), "--output", str(tmp_path / "seq"), "--retrieval-only",
                 "--history-model", "sasrec_text"]) == 0
    # --index ivf searches the history model's items too; probing every partition finds what the scan finds.
    path = export_run(str(sequential_run), str(tmp_path / "ivf"), retrieval_only=True, history_model="sasrec_id",
                      index="ivf", partitions=4, probe=4)
    indexed = tf.saved_model.load(path)
    assert hasattr(indexed, "popular_order") and not hasattr(loaded, "popular_order")
    again = indexed.signatures["recommend_by_history"](item_ids=tf.constant([["i0", "i4", "i8"]]))
    assert again["item_ids"].numpy().tolist() == out["item_ids"].numpy().tolist()
    with pytest.raises(ConfigError, match="no 'sasrec_hybrid'"):
        export_run(str(sequential_run), str(tmp_path / "other"), history_model="sasrec_hybrid")


def test_a_run_killed_in_a_sequential_phase_resumes_to_the_same_results(sequential_run, sequential_metrics,
                                                                        sequential_data, tmp_path):
    from testing import interrupted_copy

    copy, _ = interrupted_copy(sequential_run, tmp_path, "sasrec_text")  # killed during the ID-free model
    resumed = train_recipe(sequential_config(sequential_data), copy, verbose=0)
    assert resumed["baselines"]["sasrec_text"]["test"] == sequential_metrics["baselines"]["sasrec_text"]["test"]
    assert resumed["baselines"]["sasrec_id"] == sequential_metrics["baselines"]["sasrec_id"]


def test_a_folder_from_before_a_phase_s_revision_measures_that_phase_again(sequential_run, sequential_metrics,
                                                                          sequential_data, tmp_path, capsys):
    import json

    from testing import interrupted_copy
    from tfllmrec.recipes.run_folder import REVISIONS

    # Killed during the ID-free model by a tfllmrec that kept no revisions (every phase at 1):
    # the sequential phases (revision 2) measured their users differently then.
    copy, _ = interrupted_copy(sequential_run, tmp_path, "sasrec_text")
    progress = json.loads((copy / "progress.json").read_text())
    assert progress.pop(REVISIONS) == {"main": 1, "popularity": 1, "sasrec_id": 2, "sasrec_text": 2}
    progress["sasrec_id"]["test"]["ndcg@10"] = -1.0  # an old result: must not survive
    (copy / "progress.json").write_text(json.dumps(progress))
    resumed = train_recipe(sequential_config(sequential_data), copy, verbose=2)
    log = capsys.readouterr().out
    assert log.count("finished earlier (progress.json)") == 2  # main and popularity kept
    assert "checkpoints are from another revision of sasrec_text" in log
    for name in ("sasrec_id", "sasrec_text"):  # both measured again, from scratch
        again, before = resumed["baselines"][name], sequential_metrics["baselines"][name]
        assert again["test"] == before["test"] and again["test_new_users"] == before["test_new_users"]
        assert again["training"]["epochs_run"] == before["training"]["epochs_run"] == 15
    # The phases kept from the old folder stay unrecorded, so at revision 1.
    assert json.loads((copy / "progress.json").read_text())[REVISIONS] == {"sasrec_id": 2, "sasrec_text": 2}


def test_sequential_baselines_are_refused_where_they_cannot_run():
    # News trains them on impressions, over frozen text, without periods, and exports none yet.
    with pytest.raises(ConfigError, match=r"sequence.trainable with data.split=impressions.*\['sasrec_text'\]"):
        with_overrides(get_recipe("news"), ["eval.baselines=[sasrec_text]", "sequence.trainable=top:1"])
    with pytest.raises(ConfigError, match="export.history_model with data.split=impressions.*Fix"):
        with_overrides(get_recipe("news"), ["eval.baselines=[sasrec_text]", "export.history_model=sasrec_text"])
    with pytest.raises(ConfigError, match=r"read each user's items in time order.*data.split=leave_one_out"):
        with_overrides(get_recipe("music"), ["eval.baselines=[sasrec_text]"])
    with pytest.raises(ConfigError, match="num_heads=3 does not divide embedding_dim=64"):
        with_overrides(get_recipe("ecommerce"), ["sequence.num_heads=3"])
    with pytest.raises(ConfigError, match="sequence.dropout"):
        with_overrides(get_recipe("ecommerce"), ["sequence.dropout=1.5"])
    with pytest.raises(ConfigError, match="sequence.id_dropout"):
        with_overrides(get_recipe("ecommerce"), ["sequence.id_dropout=1"])


@pytest.mark.parametrize("name, split", [("video", "leave_one_out"), ("ecommerce", "predefined")])
def test_the_zoo_sequential_recipes_add_the_sequential_models(name, split):
    from pathlib import Path

    config = get_recipe(str(Path(__file__).resolve().parents[1] / "zoo" / name / "sequential.yaml"))
    assert config.data.split == split and config.name == name
    assert {"sasrec_id", "sasrec_hybrid", "sasrec_text", "id_two_tower"} <= set(config.eval.baselines)
    assert config.export.history_model == "sasrec_hybrid" and config.model == get_recipe(name).model
    # ecommerce's hybrid drops ids as the recipe's two-tower does (zoo/ecommerce/README.md).
    assert config.sequence.id_dropout == {"video": 0.0, "ecommerce": 0.3}[name]
    # ecommerce's queries read the week, as its two-tower does.
    assert config.sequence.period_days == config.model.period_days == {"video": 0, "ecommerce": 7}[name]


@pytest.mark.parametrize("option", ["sequence.train.jit_compile=false", "sequence.train.jit_compile=true"])
def test_the_text_encoder_fine_tunes_inside_a_sequential_model(sequential_data, tmp_path, option):
    """Eager shapes (each step's distinct items encoded once), and an XLA-compiled step (static shapes)."""
    from tfllmrec.recipes.trained_run import TrainedRun
    from tfllmrec.recipes.trained_sequential import load_sequential

    config = with_overrides(sequential_config(sequential_data), [
        "eval.baselines=[sasrec_text]", "sequence.trainable=top:1", "sequence.train.epochs=2",
        "sequence.train.encoder_learning_rate=0.001", "sequence.train.encoder_warmup_steps=0", option])
    metrics = train_recipe(config, tmp_path / "run", verbose=0)
    assert metrics["baselines"]["sasrec_text"]["training"]["epochs_run"] == 2
    run = TrainedRun(tmp_path / "run")
    model = load_sequential(run.run_dir, run.config, "sasrec_text", len(run.user_ids), len(run.item_ids))
    assert model.fine_tunes_text and model.encoder_variables()
    # The stored table is the fine-tuned encoder's (refreshed after each epoch), not the frozen one.
    frozen = run.model.item_tower.text_table.numpy()
    assert not np.allclose(model.item_tower.text_table.numpy(), frozen, atol=1e-4)
    with pytest.raises(ConfigError, match="Invalid sequence: trainable=.top:x. is not a mode"):
        with_overrides(get_recipe("ecommerce"), ["sequence.trainable=top:x"])
