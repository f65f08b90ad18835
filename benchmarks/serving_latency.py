"""Latency of an exported `recommend_k` (k = 10; `serving_default` with the recipe's top_k) through `tf.saved_model.load`.

Prints p50/p99 per request at batch 1 (and 64) with the catalogue size, then
`RESULT serving_p99_ms_batch1 <ms>`. Target: p99 <= 5 ms for MovieLens'
1,682 items on 2 CPU cores.

Usage:
    python benchmarks/serving_latency.py saved_models/video/3 [--requests 2000]
    python benchmarks/serving_latency.py --synthetic-items 100000 1000000

`--synthetic-items` exports retrieval-only SavedModels over random 128-d
vectors (1,000 users with 20 seen items each) for catalogues of those sizes
and measures each the same way (brute force: matmul + top-k).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tfllmrec  # noqa: E402,F401  (before TensorFlow: selects tf-keras)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_text  # noqa: E402,F401  (registers the text signatures' ops)


def measure(signature, users, batch, requests, warmup=50):
    rng = np.random.default_rng(0)
    batches = [tf.constant(rng.choice(users, batch)) for _ in range(64)]
    k = tf.constant(10)
    for i in range(warmup):
        signature(user_id=batches[i % 64], k=k)
    times = []
    for i in range(requests):
        start = time.perf_counter()
        out = signature(user_id=batches[i % 64], k=k)
        out["item_ids"].numpy()
        times.append((time.perf_counter() - start) * 1000)
    return np.percentile(times, 50), np.percentile(times, 99)


def synthetic_export(num_items, folder, dim=128, num_users=1000, seed=0):
    """A retrieval-only SavedModel over random vectors; returns its path."""
    from tfllmrec.export import RecommenderModule

    rng = np.random.default_rng(seed)
    module = RecommenderModule(
        [f"u{i}" for i in range(num_users)], [f"i{i}" for i in range(num_items)],
        rng.normal(size=(num_users, dim)).astype("float32"),
        rng.normal(size=(num_items, dim)).astype("float32"),
        [sorted(rng.choice(num_items, 20, replace=False).tolist()) for _ in range(num_users)],
        rng.random(num_items).astype("float32"),
    )
    path = os.path.join(folder, str(num_items))
    tf.saved_model.save(module, path, signatures=module.signatures())
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("saved_model", nargs="?")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--synthetic-items", type=int, nargs="*", default=[])
    args = parser.parse_args()
    if args.synthetic_items:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            for size in args.synthetic_items:
                report(synthetic_export(size, folder), max(200, args.requests * 1682 // size))
        return
    report(args.saved_model, args.requests)


def report(saved_model, requests):
    loaded = tf.saved_model.load(saved_model)
    signature = loaded.signatures["recommend_k"]
    num_items = int(loaded.item_vectors.shape[0])
    users = [u.decode() for u in loaded.user_ids.numpy()[:1000]]
    threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    print(f"SavedModel {saved_model}: {num_items} items, {len(users)} sampled users, "
          f"{os.cpu_count()} CPUs, intra-op threads {threads}")
    print(f"{'batch':>6s} {'p50 ms':>8s} {'p99 ms':>8s}")
    results = {}
    for batch in (1, 64):
        p50, p99 = measure(signature, users, batch, requests if batch == 1 else max(50, requests // 4))
        results[batch] = p99
        print(f"{batch:6d} {p50:8.3f} {p99:8.3f}")
    print(f"RESULT serving_p99_ms_batch1_{num_items}_items {results[1]:.3f}")


if __name__ == "__main__":
    main()
