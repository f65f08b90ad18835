"""Latency of an exported `serving_default` through `tf.saved_model.load`.

Prints p50/p99 per request at batch 1 (and 64) with the catalogue size, then
`RESULT serving_p99_ms_batch1 <ms>`. Target: p99 <= 5 ms for MovieLens'
1,682 items on 2 CPU cores.

Usage:
    python benchmarks/serving_latency.py saved_models/video/1 [--requests 2000]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("saved_model")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    loaded = tf.saved_model.load(args.saved_model)
    signature = loaded.signatures["serving_default"]
    num_items = int(loaded.item_vectors.shape[0])
    users = [u.decode() for u in loaded.user_ids.numpy()[:1000]]
    threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    print(f"SavedModel {args.saved_model}: {num_items} items, {len(users)} sampled users, "
          f"{os.cpu_count()} CPUs, intra-op threads {threads}")
    print(f"{'batch':>6s} {'p50 ms':>8s} {'p99 ms':>8s}")
    results = {}
    for batch in (1, 64):
        p50, p99 = measure(signature, users, batch, args.requests if batch == 1 else args.requests // 4)
        results[batch] = p99
        print(f"{batch:6d} {p50:8.3f} {p99:8.3f}")
    print(f"RESULT serving_p99_ms_batch1 {results[1]:.3f}")


if __name__ == "__main__":
    main()
