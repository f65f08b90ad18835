"""The sequential models' optional query inputs: the request's time (`sequence.period_days`) and the
user id (`sequence.use_user_ids`), from the model through a recipe run to the served signature."""

import json

import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_recipe_overrides, write_tiny_dataset
from testing import TestCase
from tfllmrec.errors import ConfigError, DataError
from tfllmrec.models import SequentialRetrieval
from tfllmrec.recipes import get_recipe, with_overrides
from tfllmrec.recipes.pipeline import train_recipe
from tfllmrec.tasks.new_users import new_user_metrics
from tfllmrec.tasks.sequential import training_sequences

NUM_ITEMS, LENGTH = 12, 6
TINY = dict(num_users=4, num_items=NUM_ITEMS, embedding_dim=16, max_length=LENGTH, num_layers=1, dropout=0.0)


class SequentialContextTest(TestCase):
    def test_config_round_trips_with_time_and_user_ids(self):
        model = SequentialRetrieval(num_periods=3, period_days=7, use_user_ids=True, **TINY)
        config = self.run_serialization_test(model).get_config()
        assert (config["num_periods"], config["period_days"], config["use_user_ids"]) == (3, 7, True)


@pytest.mark.parametrize("args, message", [
    (dict(use_item_ids=False, text_dim=4, use_user_ids=True), "the ID-free mode has no id of any kind"),
    (dict(num_periods=3), "num_periods=3 with period_days=0"),
    (dict(period_days=7), "num_periods=0 with period_days=7"),
])
def test_inconsistent_arguments_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        SequentialRetrieval(**{**TINY, **args})


def test_request_periods_are_checked():
    model = SequentialRetrieval(num_periods=3, period_days=7, **TINY)
    with pytest.raises(ValueError, match="4 periods from -1 to 2; got shape"):
        model.set_periods([0, 1, 2, 3])
    model.set_periods([0, 1, 2, -1])
    assert model.user_period.numpy().tolist() == [0, 1, 2, -1] and model.latest_period == 2


def test_time_and_user_vectors_start_at_zero_and_none_adds_nothing():
    model = SequentialRetrieval(num_periods=3, period_days=7, use_user_ids=True, **TINY)
    history = tf.constant([[-1, -1, -1, 0, 1, 2]])
    alone = model.query_for_history(history, periods=tf.constant([-1]))  # neither a user nor a time
    # Untrained, a period or a user adds nothing: a user or week training never saw changes no query.
    np.testing.assert_allclose(model.query_for_history(history, users=tf.constant([1]), periods=tf.constant([2])),
                               alone, atol=1e-6)
    model.period_embedding.embeddings.assign(tf.random.normal([3, 16]))
    model.user_embedding.embeddings.assign(tf.random.normal([4, 16]))
    np.testing.assert_allclose(model.query_for_history(history, users=tf.constant([-1]), periods=tf.constant([-1])),
                               alone, atol=1e-6)  # -1: none
    for users, periods in [([1], [-1]), ([-1], [1])]:
        query = model.query_for_history(history, users=tf.constant(users), periods=tf.constant(periods))
        assert np.abs(query - alone).max() > 1e-3
    # periods=None asks in the latest trained period: a request comes after training.
    np.testing.assert_allclose(model.query_for_history(history),
                               model.query_for_history(history, periods=tf.constant([2])), atol=1e-6)


def _week_sequences(count=96, seed=0):
    """Each item in a period of its own, drawn at random: in period p the item is 2p or 2p + 1,
    whatever came before. The history cannot tell what comes next; the request's time can."""
    rng = np.random.default_rng(seed)
    periods = rng.integers(0, 4, (count, LENGTH + 1)).astype(np.int32)
    items = (2 * periods + rng.integers(0, 2, periods.shape)).astype(np.int32)
    return {"sequence": items, "periods": periods, "user": np.zeros(count, np.int32)}


def _hits_of_the_period(model, features):
    """Share of the histories whose top item is of the next item's period."""
    model.set_training_data(np.ones(NUM_ITEMS), [[0]] * 4)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01))
    data = tf.data.Dataset.from_tensor_slices(features).repeat().batch(16)
    model.fit(data, steps_per_epoch=150, epochs=1, verbose=0)
    asked = features["periods"][:, LENGTH]
    queries = model.query_for_history(tf.constant(features["sequence"][:, :LENGTH]),
                                      periods=tf.constant(asked) if model.num_periods else None)
    top = np.argmax((queries @ tf.transpose(model.candidates())).numpy(), axis=1)
    return float(np.mean(top // 2 == asked))


def test_the_request_time_tells_what_comes_next_when_the_history_cannot():
    features = _week_sequences()
    tf.keras.utils.set_random_seed(0)
    timed = _hits_of_the_period(SequentialRetrieval(num_periods=4, period_days=7, **TINY), features)
    tf.keras.utils.set_random_seed(0)
    blind = _hits_of_the_period(SequentialRetrieval(**TINY), features)
    # With the time, the top item is of the request's period; without, a guess among four.
    assert timed > 0.95 and blind < 0.5, (timed, blind)


def test_training_sequences_carry_each_item_s_period():
    features = training_sequences([[1, 2, 3], [4], [5, 6]], 2, periods=[[0, 0, 1], [1], [2, 3]])
    assert features["periods"].tolist() == [[0, 0, 1], [-1, 2, 3]] and features["user"].tolist() == [0, 2]


class _RecordingModel:
    """What `new_user_metrics` reads of a model, recording the periods it is asked at."""
    max_length = 4

    def query_for_history(self, history, periods=None):
        self.asked = None if periods is None else periods.numpy().tolist()
        return tf.ones([history.shape[0], 2])

    def candidates(self):
        return tf.ones([10, 2])


def test_a_new_user_is_asked_when_the_first_half_of_their_items_ends():
    model = _RecordingModel()
    histories, training = [[1, 2, 3, 4, 5], [6], [7, 8]], (np.arange(10), np.arange(10))
    result = new_user_metrics(model, histories, training, (5,), periods=[[0, 0, 1, 2, 2], [3], [1, 3]])
    # The second half starts at the third item of the first user and the second of the last.
    assert result["users"] == 2 and model.asked == [1, 3]
    new_user_metrics(model, histories, training, (5,))
    assert model.asked is None


# ----------------------------------------------------------------------------- a run and its export

def _dated_dataset(folder):
    """The tiny dataset, its interactions a day apart: 12 days, two periods of 7 days."""
    write_tiny_dataset(folder)
    path = folder / "interactions.csv"
    lines = path.read_text().splitlines()
    rows = [line.split(",") for line in lines[1:]]
    dated = [f"{user},{item},{1_600_000_000 + 86_400 * ((int(ts) - 1_600_000_000) // 1000)}" for user, item, ts in rows]
    path.write_text("\n".join([lines[0]] + dated) + "\n")
    return folder


def _config(folder, *extra):
    return with_overrides(get_recipe("video"), tiny_recipe_overrides(folder, epochs=1) + [
        "eval.baselines=[sasrec_id]", "data.split=leave_one_out", "data.cold_start_fraction=0",
        "sequence.train.epochs=3", "sequence.max_length=8", "sequence.embedding_dim=16",
        "sequence.period_days=7", "sequence.use_user_ids=true", *extra])


@pytest.fixture(scope="module")
def context_run(tmp_path_factory):
    data = _dated_dataset(tmp_path_factory.mktemp("dated"))
    run_dir = tmp_path_factory.mktemp("runs") / "context"
    train_recipe(_config(data), run_dir, verbose=0)
    return run_dir


def test_the_run_trains_the_time_and_the_users_and_the_export_serves_them(context_run, tmp_path):
    from tfllmrec.recipes.export_run import export_run
    from tfllmrec.recipes.trained_run import TrainedRun
    from tfllmrec.recipes.trained_sequential import load_sequential

    metrics = json.loads((context_run / "metrics.json").read_text())
    assert metrics["baselines"]["sasrec_id"]["test"]["recall@10"] >= 0
    run = TrainedRun(context_run)
    model = load_sequential(run.run_dir, run.config, "sasrec_id", len(run.user_ids), len(run.item_ids))
    # 12 days of training interactions: two periods of 7 days, read back from the checkpoint.
    assert model.num_periods == 2 and model.user_embedding is not None
    assert np.abs(model.period_embedding.embeddings.numpy()).max() > 0  # trained, from zero
    trained_users = np.abs(model.user_embedding.embeddings.numpy()).max(axis=1) > 0
    assert 30 <= trained_users.sum() < 40  # the held-out users' vectors stay at zero
    path = export_run(str(context_run), str(tmp_path / "ctx"), retrieval_only=True, history_model="sasrec_id")
    loaded = tf.saved_model.load(path)
    position = {item: i for i, item in enumerate(run.item_ids)}
    history = tf.constant([[-1] * (model.max_length - 3) + [position[i] for i in ("i0", "i4", "i8")]])
    model.set_history(run.seen)
    user = int(np.flatnonzero(trained_users)[0])
    for signature, kwargs, users in [
            ("recommend_by_history", {}, None),
            ("recommend_for_user", {"user_id": tf.constant([run.user_ids[user]])}, tf.constant([user]))]:
        out = loaded.signatures[signature](item_ids=tf.constant([["i0", "i4", "i8"]]), **kwargs)
        # Served at the latest period, with the user's vector where the request names a known user.
        query = model.query_for_history(history, users=users)
        scores = tf.matmul(query, model.candidates(), transpose_b=True).numpy()[0]
        best = [position[i] for i in out["item_ids"].numpy()[0].astype(str)]
        np.testing.assert_allclose(out["scores"].numpy()[0], scores[best], atol=1e-5)


def test_time_periods_need_timestamps_and_say_which_key(tmp_path):
    folder = write_tiny_dataset(tmp_path)
    path = folder / "interactions.csv"
    lines = path.read_text().splitlines()
    # Every timestamp 0: an order (the file's), but no time to count periods in.
    path.write_text("\n".join([lines[0]] + [line.rsplit(",", 1)[0] + ",0" for line in lines[1:]]) + "\n")
    with pytest.raises(DataError, match="sequence.period_days"):
        train_recipe(_config(folder), tmp_path / "run", verbose=0)
    assert not (tmp_path / "run" / "checkpoints").exists()  # refused before anything trained


def test_bad_values_name_the_key():
    with pytest.raises(ConfigError, match="sequence.period_days"):
        with_overrides(get_recipe("ecommerce"), ["sequence.period_days=-1"])
    with pytest.raises(ConfigError, match="sequence.use_user_ids"):
        with_overrides(get_recipe("ecommerce"), ["sequence.use_user_ids=maybe"])
