"""The benchmark scripts run (`--smoke`: tiny random BERT, our side only, no
torch), and the levers they measure leave the encoder's outputs unchanged."""

import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO

TEXTS = ["red shoe", "a very long product description " * 5, "red shoe", "blue", "",
         "blue trail running shoe", "red shoe"]


def run_script(name, *args):
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / name), *args],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def check_report(stdout, result_name):
    lines = stdout.strip().splitlines()
    assert any(line.startswith("| variant |") for line in lines), stdout
    assert re.fullmatch(rf"RESULT {result_name} \d+(\.\d+)?", lines[-1]), lines[-1]


def test_encode_throughput_smoke():
    stdout = run_script("encode_throughput.py", "--smoke", "--variants", "ours,previous")
    check_report(stdout, "encode_texts_per_s")
    assert "| ours |" in stdout and "| previous |" in stdout


def test_train_throughput_smoke():
    stdout = run_script("train_throughput.py", "--smoke")
    check_report(stdout, r"train_speedup_dedup_vs_naive_batch64")
    assert "| top:1/states |" in stdout
    # (a) and (b) are the same function: same loss on the same batch.
    a, b = re.search(r"\(a\)/\(b\) loss on one batch: ([\d.]+) / ([\d.]+)", stdout).groups()
    assert float(a) == pytest.approx(float(b), rel=1e-5)


def test_ivf_index_smoke():
    stdout = run_script("ivf_index.py", "--sizes", "20000", "--requests", "20", "--no-faiss", "--serve")
    recall = float(re.search(r"RESULT ivf_recall_at_10_20000 ([\d.]+)", stdout).group(1))
    assert recall >= 0.9, stdout  # 24 of ~170 blocks on clustered data
    assert re.search(r"RESULT ivf_p99_ms_batch1_20000 [\d.]+", stdout)
    assert "dev server: 200" in stdout


@pytest.mark.parametrize("script", ["encode_throughput.py", "train_throughput.py", "ivf_index.py"])
def test_help(script):
    assert "usage" in run_script(script, "--help").lower()


@pytest.mark.parametrize(
    "options",
    [{"deduplicate": True}, {"length_buckets": 3}, {"length_buckets": 8, "deduplicate": True}],
)
def test_dedup_and_length_buckets_keep_outputs_and_gradients(tiny_encoder, options):
    plain = tiny_encoder(trainable="top:1")
    lever = tiny_encoder(trainable="top:1", **options)  # tiny-random is seeded: same weights
    x = tf.constant(TEXTS)
    np.testing.assert_allclose(lever(x).numpy(), plain(x).numpy(), atol=1e-6)
    graph = tf.function(lambda t: lever(t))(x).numpy()
    np.testing.assert_allclose(graph, plain(x).numpy(), atol=1e-6)
    assert lever(tf.constant(["one text"])).shape == (1, 32)  # fewer texts than buckets
    grads = []
    for enc in (plain, lever):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(enc(x)[:, :3])
        grads.append(tape.gradient(loss, enc.trainable_weights))
    for g_plain, g_lever in zip(*grads):
        np.testing.assert_allclose(g_lever.numpy(), g_plain.numpy(), atol=1e-5)
    assert lever.get_config()["deduplicate"] == options.get("deduplicate", False)


@pytest.mark.parametrize("mode", ["none", "top:1"])
def test_cached_lower_layers_match_full_encoder(tiny_encoder, mode):
    enc = tiny_encoder(trainable=mode, length_buckets=2)
    states, mask = enc.frozen_states(TEXTS, batch_size=3)
    assert states.shape[:2] == mask.shape and mask.sum(1).max() == mask.shape[1]
    full = enc(tf.constant(TEXTS)).numpy()
    np.testing.assert_allclose(enc.call_on_states(states, mask).numpy(), full, atol=1e-5)
    rows = [1, 3]
    np.testing.assert_allclose(enc.call_on_states(states[rows], mask[rows]).numpy(), full[rows],
                               atol=1e-5)


def test_cached_lower_layers_refuse_mode_all(tiny_encoder):
    with pytest.raises(ValueError, match="trains the embeddings"):
        tiny_encoder(trainable="all").frozen_states(TEXTS)


def test_encode_matches_call_and_xla(tiny_encoder):
    enc = tiny_encoder()
    direct = enc(tf.constant(TEXTS)).numpy()
    np.testing.assert_allclose(enc.encode(TEXTS, batch_size=2), direct, atol=1e-5)
    np.testing.assert_allclose(enc.encode(TEXTS, batch_size=3, jit_compile=True), direct, atol=1e-5)


def test_tokenizer_normalises_like_hugging_face(tiny_encoder):
    # No-break spaces split words (they made whole Amazon titles [UNK]);
    # "™" is not NFKC-folded to "tm"; accents are stripped.
    enc = tiny_encoder()
    ids, _ = enc.tokenize(tf.constant(["HP\xa0Color\xa0LaserJet", "HP Color LaserJet"]))
    np.testing.assert_array_equal(ids[0], ids[1])
    unk = enc.tokenizer.token_to_id("[UNK]")
    assert unk not in ids.numpy()[0]
    tokens = [enc.tokenizer.id_to_token(int(i)) for i in enc.tokenize(tf.constant(["Shacke™ Café"]))[0][0]]
    assert tokens[1:-1] == ["shack", "##e", "##™", "cafe"]


@pytest.mark.parametrize("ranker", ["rating", "rerank"])
def test_serving_latency_times_both_stages_in_one_run(ranker):
    stdout = run_script("serving_latency.py", "--synthetic-items", "500", "--ranker", ranker, "--requests", "30")
    lines = stdout.strip().splitlines()
    assert re.fullmatch(r"RESULT serving_p99_ms_batch1_500_items \d+\.\d+", lines[-3]), stdout
    assert re.fullmatch(r"RESULT two_stage_p99_ms_batch1_500_items \d+\.\d+ \(\d+\.\dx retrieval alone\)",
                        lines[-1]), stdout


def test_serving_latency_times_the_history_signature_through_the_index():
    stdout = run_script("serving_latency.py", "--synthetic-items", "300", "--history", "5", "--index", "ivf",
                        "--requests", "20")
    lines = stdout.strip().splitlines()
    assert re.fullmatch(r"RESULT serving_p99_ms_batch1_300_items \d+\.\d+", lines[-3]), stdout
    assert re.fullmatch(r"RESULT history_p99_ms_batch1_300_items \d+\.\d+ \(\d+\.\dx the user-vector lookup's "
                        r"recommend_k\)", lines[-1]), stdout
