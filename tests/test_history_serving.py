"""`HistoryRecommenderModule`: a sequential model served from the request's recent items, as TF Serving serves it."""

import json

import numpy as np
import pytest
import tensorflow as tf

from test_sequential_retrieval import NUM_ITEMS, TINY, fitted
from tfllmrec.export.history_module import HistoryRecommenderModule
from tfllmrec.models import SequentialRetrieval
from tfllmrec.serving import RestServer

IDS = [f"i{i}" for i in range(NUM_ITEMS)]
POPULARITY = np.arange(NUM_ITEMS, dtype=np.float32)  # i11 the most popular


# Every test runs on both searches: every item scored, and an inverted-file index
# (export.index=ivf) whose probe covers all 3 partitions, so both must give the same answers.
IVF = dict(partitions=3, probe=3, precision="bfloat16")


@pytest.fixture(scope="module", params=[None, IVF], ids=["scan", "ivf"])
def exported(tmp_path_factory, request):
    model = fitted(SequentialRetrieval(**TINY))  # learned: item i is followed by i + 1
    module = HistoryRecommenderModule(model, IDS, POPULARITY, top_k=3, index=request.param)
    root = tmp_path_factory.mktemp("served")
    tf.saved_model.save(module, str(root / "history" / "1"), signatures=module.signatures())
    return model, tf.saved_model.load(str(root / "history" / "1")), root


def recommend(loaded, rows):
    out = loaded.signatures["recommend_by_history"](item_ids=tf.constant(rows))
    return {name: value.numpy().astype(str).tolist() if value.dtype == tf.string else value.numpy()
            for name, value in out.items()}


def test_a_new_sessions_clicks_personalise_the_answer_with_no_retraining(exported):
    _, loaded, _ = exported
    out = recommend(loaded, [["i2", "i3", "i4"], ["i8", "i9", "i10"]])
    assert [row[0] for row in out["item_ids"]] == ["i5", "i11"]
    # Each recommendation names the history item nearest to it, from that request's history.
    assert all(set(because) <= set(history) for because, history in
               zip(out["because_item_ids"], [["i2", "i3", "i4"], ["i8", "i9", "i10"]]))
    assert all(scores[0] >= scores[1] >= scores[2] for scores in out["scores"])


def test_padding_unknown_ids_and_items_past_max_length_change_nothing(exported):
    model, loaded, _ = exported
    plain = recommend(loaded, [["", "", "i3", "i4"]])
    # "zz" is no catalogue item (one newer than the export): read as padding.
    assert recommend(loaded, [["", "zz", "i3", "i4"]])["item_ids"] == plain["item_ids"]
    assert recommend(loaded, [["i3", "i4"]])["item_ids"] == plain["item_ids"]
    longer = ["i7"] * 10 + ["i0", "i1", "i2", "i3", "i4", "i5", "i6"][-model.max_length:]
    longest = ["i9"] * 20 + longer[-model.max_length:]
    assert recommend(loaded, [longer])["item_ids"] == recommend(loaded, [longest])["item_ids"]


def test_the_history_ranks_last_and_no_known_item_gets_the_most_popular(exported):
    _, loaded, _ = exported
    history = ["i0", "i1", "i2", "i3", "i4", "i5"]
    assert not set(recommend(loaded, [history])["item_ids"][0]) & set(history)
    out = recommend(loaded, [["", "zz"]])
    assert out["item_ids"] == [["i11", "i10", "i9"]] and out["because_item_ids"] == [["", "", ""]]


def test_the_export_matches_the_model_and_stores_each_variable_once(exported):
    model, loaded, root = exported
    history = tf.constant([[-1, 2, 3, 4, 5, 6]])
    expected = tf.matmul(model.query_for_history(history), model.candidates(), transpose_b=True).numpy()[0]
    out = recommend(loaded, [["i2", "i3", "i4", "i5", "i6"]])
    best = [int(i[1:]) for i in out["item_ids"][0]]
    np.testing.assert_allclose(out["scores"][0], expected[best], atol=1e-5)
    # The tower's variables, the item vectors, the popularity and the ids (and the index's centroids,
    # blocks, members and popular order, but not the item vectors again): nothing twice.
    stored = [name for name, _ in tf.train.list_variables(str(root / "history" / "1" / "variables" / "variables"))
              if name != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    assert len(stored) == len(model.query_tower.weights) + 3 + (4 if hasattr(loaded, "popular_order") else 0)


def test_rest_row_format_and_a_wrong_rank(exported):
    _, _, root = exported
    server = RestServer(str(root), port=0)
    path = "/v1/models/history:predict"
    status, body = server.handle("POST", path, json.dumps({"instances": [["i2", "i3", "i4"]]}).encode())
    assert status == 200 and json.loads(body)["predictions"][0]["item_ids"][0] == "i5"
    status, body = server.handle("POST", path, json.dumps({"instances": ["i2", "i3"]}).encode())
    assert status == 400 and "error" in json.loads(body)


def test_a_known_user_without_history_in_the_request_reads_the_stored_one(tmp_path):
    model = fitted(SequentialRetrieval(**TINY))  # user 1's stored history: i3, i4
    module = HistoryRecommenderModule(model, IDS, POPULARITY, top_k=3, user_ids=["u0", "u1", "u2", "u3"])
    path = str(tmp_path / "1")
    tf.saved_model.save(module, path, signatures=module.signatures())
    served = tf.saved_model.load(path).signatures["recommend_for_user"]
    by_history = tf.saved_model.load(path).signatures["recommend_by_history"]
    out = served(user_id=tf.constant(["u1", "u1", "stranger"]),
                 item_ids=tf.constant([["", ""], ["i8", "i9"], ["", ""]]))
    ids = out["item_ids"].numpy().astype(str).tolist()
    assert ids[0] == by_history(item_ids=tf.constant([["i3", "i4"]]))["item_ids"].numpy().astype(str).tolist()[0]
    assert ids[0][0] == "i5" and set(out["because_item_ids"].numpy().astype(str)[0]) <= {"i3", "i4"}
    assert ids[1][0] == "i10"  # the request's own history wins over the stored one
    assert ids[2] == ["i11", "i10", "i9"]  # unknown, with nothing known: the most popular
