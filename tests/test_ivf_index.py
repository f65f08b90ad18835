"""The inverted-file index: exact when it probes everything, core ops only, the export's request rules kept."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tfllmrec.export import RecommenderModule, classify_ops, saved_model_ops
from tfllmrec.export.ivf_index import IVFIndex, balanced_assignment, kmeans, mips_keys, partition_blocks

N, D, U = 400, 8, 25
RNG = np.random.default_rng(3)
ITEMS = RNG.normal(size=(N, D)).astype("float32")
USERS = RNG.normal(size=(U, D)).astype("float32")
SEEN = [sorted(RNG.choice(N, 12, replace=False).tolist()) for _ in range(U)]
POPULARITY = RNG.random(N).astype("float32")
OFFSETS = RNG.normal(scale=2.0, size=N).astype("float32")
USER_IDS, ITEM_IDS = [f"u{i}" for i in range(U)], [f"i{i}" for i in range(N)]


def _modules(offsets=None, **index):
    args = (USER_IDS, ITEM_IDS, USERS, ITEMS, SEEN, POPULARITY)
    return (RecommenderModule(*args, item_offsets=offsets),
            RecommenderModule(*args, item_offsets=offsets, index=dict(dict(partitions=10, probe=10), **index)))


@pytest.mark.parametrize("offsets", [None, OFFSETS], ids=["no offsets", "offsets"])
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_probing_every_partition_ranks_as_brute_force(offsets, precision):
    brute, ivf = _modules(offsets, precision=precision, probe=1000)  # probe: every block
    users = tf.constant(USER_IDS + ["stranger"])
    for k in (1, 10, 50):
        want, got = brute.recommend_k(users, tf.constant(k)), ivf.recommend_k(users, tf.constant(k))
        np.testing.assert_array_equal(got["item_ids"].numpy(), want["item_ids"].numpy())
        np.testing.assert_allclose(got["scores"].numpy(), want["scores"].numpy(), atol=1e-5)


def test_seen_items_rank_last_unknown_users_get_the_popular_and_k_is_capped():
    _, ivf = _modules()
    out = ivf.recommend_k(tf.constant(["u0", "nobody"]), tf.constant(5))
    ids = [[x.decode() for x in row] for row in out["item_ids"].numpy()]
    assert not {f"i{i}" for i in SEEN[0]} & set(ids[0])
    assert ids[1] == [f"i{i}" for i in np.argsort(-POPULARITY, kind="stable")[:5]]
    # More than a user's probed partitions hold: the rest is padding ("", -inf), never an error.
    _, narrow = _modules(probe=1)
    wide = narrow.recommend_k(tf.constant(["u1"]), tf.constant(N))
    assert wide["item_ids"].shape[1] <= N
    padded = wide["item_ids"].numpy()[0] == b""
    assert np.all(np.isinf(wide["scores"].numpy()[0][padded]))
    assert not np.any(np.isinf(wide["scores"].numpy()[0][~padded]))


def test_requests_are_checked_in_the_graph_as_brute_force_checks_them():
    _, ivf = _modules()
    with pytest.raises(tf.errors.InvalidArgumentError, match="k must be a positive integer"):
        ivf.recommend_k(tf.constant(["u0"]), tf.constant(0))


def test_partial_probes_find_most_of_the_brute_force_top_ten():
    brute, ivf = _modules(probe=4)
    users = tf.constant(USER_IDS)
    want = brute.serving_default(users)["item_ids"].numpy()
    got = ivf.serving_default(users)["item_ids"].numpy()
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, want)])
    assert 0.6 < recall < 1.0, recall  # 4 of ~10 blocks on unclustered data: an approximation


def test_partitions_hold_at_most_their_capacity_and_keys_rank_as_inner_products():
    keys = mips_keys(ITEMS, OFFSETS)
    np.testing.assert_allclose(np.linalg.norm(keys, axis=1), 1.0, atol=1e-5)
    queries = np.hstack([USERS, np.ones((U, 1)), np.zeros((U, 1))]).astype("float32")
    scores, exact = queries @ keys.T, USERS @ ITEMS.T + OFFSETS
    assert np.array_equal(np.argsort(-scores, axis=1)[:, :10], np.argsort(-exact, axis=1)[:, :10])
    centroids, block = partition_blocks(keys, kmeans(keys, 10), capacity=50)
    assert np.bincount(block).max() <= 50 and len(centroids) >= N / 50
    assert np.bincount(balanced_assignment(keys, centroids, 50), minlength=len(centroids)).max() <= 50
    with pytest.raises(ValueError, match="probe must be at least 1"):
        IVFIndex(ITEMS, partitions=10, probe=0)
    blocks = IVFIndex(ITEMS, partitions=10, probe=1).centroids.shape[0]
    assert IVFIndex(ITEMS, partitions=10, probe=1000).probe == blocks  # more than there are: all


def test_export_with_an_ivf_index_serves_through_saved_model_and_the_dev_server(tiny_run, tmp_path):
    from tfllmrec.recipes.export_run import export_run
    from tfllmrec.recipes.trained_run import TrainedRun
    from tfllmrec.serving import RestServer

    path = export_run(tiny_run, tmp_path / "models" / "tiny", retrieval_only=True, index="ivf", partitions=4,
                      probe=4)
    assert "index: ivf" in (tmp_path / "models" / "tiny" / "1" / "config.yaml").read_text()
    assert classify_ops(saved_model_ops(path))["other"] == []  # stock TF Serving has every op
    run = TrainedRun(tiny_run)
    user = str(run.user_ids[2])
    want = [item for item, _, _ in run.recommend_for_user(user, k=10)]  # probe 4 of 4: exact
    served = tf.saved_model.load(path).signatures["serving_default"](user_id=tf.constant([user]))
    assert [x.decode() for x in served["item_ids"].numpy()[0]] == want
    with RestServer(tmp_path / "models", port=0) as server:
        status, body = server.handle("POST", "/v1/models/tiny:predict", json.dumps({"instances": [user]}).encode())
    assert status == 200 and json.loads(body)["predictions"][0]["item_ids"] == want


def test_more_partitions_than_items_is_a_clear_error(tiny_run, tmp_path, capsys):
    from tfllmrec.cli import main

    code = main(["export", str(tiny_run), "--output", str(tmp_path / "m"), "--index", "ivf",
                 "--partitions", "100000"])
    error = capsys.readouterr().err.strip()
    assert code == 2 and error.startswith("tfllmrec: error: export.partitions=100000 is more than the 60 items")
    assert "Fix:" in error and len(error.splitlines()) == 1 and not (tmp_path / "m" / "1").exists()
