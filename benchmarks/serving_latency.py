"""Latency of an exported `recommend_k` (k = 10; `serving_default` with the recipe's top_k) through `tf.saved_model.load`.

Prints p50/p99 per request at batch 1 (and 64) with the catalogue size, then
`RESULT serving_p99_ms_batch1 <ms>`. Target: p99 <= 5 ms for MovieLens'
1,682 items on 2 CPU cores. An export with a ranking stage also gets its
two-stage `recommend_ranked` (retrieve `export.rank_candidates`, re-score them
with the rating model, top k) measured in the same run, and the ratio of the
two; target: two-stage p99 <= 20 ms at batch 1 for 1.7k and 100k items.

With `--history N`, each synthetic catalogue also gets a sequential model's
export (`HistoryRecommenderModule`: an untrained `SequentialRetrieval` of
the `sequence:` defaults, 64-d, 2 transformer blocks) whose
`recommend_by_history` reads an N-item history per request, timed in the
same run beside the catalogue's `recommend_k`; target (issue 21): p99 <= 10 ms
at batch 1 with a 50-item history for 1.7k and 100k items.

Usage:
    python benchmarks/serving_latency.py saved_models/video/4 [--requests 2000]
    python benchmarks/serving_latency.py --synthetic-items 100000 1000000
    python benchmarks/serving_latency.py --synthetic-items 1682 100000 --history 50 [--index ivf]

`--synthetic-items` exports retrieval-only SavedModels over random 128-d
vectors (1,000 users with 20 seen items each) for catalogues of those sizes
and measures each the same way (brute force: matmul + top-k); with
`--ranker rating`, each also holds an untrained rating model of the video
recipe's shape (64-d factors, 384-d item text, 1,000 rated items a user),
with `--ranker rerank` an untrained `CandidateReranker` of the ecommerce
recipe's shape (384-d item text, 5 recent items, 50 co-occurring items per
item, time periods); each times like a trained one. With `--index ivf`,
both exports search an inverted-file index (`export.index=ivf`: sqrt(n)
partitions, probe 24, bfloat16 blocks) instead of scoring every item.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tfllmrec  # noqa: E402,F401  (before TensorFlow: selects tf-keras)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_text  # noqa: E402,F401  (registers the text signatures' ops)


def measure(signature, users, batch, requests, warmup=50, **inputs):
    rng = np.random.default_rng(0)
    batches = [tf.constant(rng.choice(users, batch)) for _ in range(64)]
    for i in range(warmup):
        signature(user_id=batches[i % 64], **inputs)
    times = []
    for i in range(requests):
        start = time.perf_counter()
        out = signature(user_id=batches[i % 64], **inputs)
        out["item_ids"].numpy()
        times.append((time.perf_counter() - start) * 1000)
    return np.percentile(times, 50), np.percentile(times, 99)


def measure_history(signature, num_items, length, requests, warmup=50):
    """p50 and p99 ms of `recommend_by_history` at batch 1, a random `length`-item history per request."""
    rng = np.random.default_rng(0)
    histories = [tf.constant([[f"i{i}" for i in rng.choice(num_items, length)]]) for _ in range(64)]
    for i in range(warmup):
        signature(item_ids=histories[i % 64])
    times = []
    for i in range(requests):
        start = time.perf_counter()
        signature(item_ids=histories[i % 64])["item_ids"].numpy()
        times.append((time.perf_counter() - start) * 1000)
    return np.percentile(times, 50), np.percentile(times, 99)


def index_options(kind, num_items):
    """The `index` argument of the synthetic exports (`export.index`'s defaults), or None for brute force."""
    if kind == "brute":
        return None
    return dict(partitions=max(1, int(round(np.sqrt(num_items)))), probe=24, precision="bfloat16")


def synthetic_history_export(num_items, folder, length, index=None):
    """A `HistoryRecommenderModule` SavedModel of an untrained `SequentialRetrieval` over `num_items`."""
    from tfllmrec.export.history_module import HistoryRecommenderModule
    from tfllmrec.models import SequentialRetrieval
    from tfllmrec.recipes.sequence_config import SequenceConfig

    options = dict(SequenceConfig().model_options(), max_length=length)
    model = SequentialRetrieval(num_users=1, num_items=num_items, **options)
    module = HistoryRecommenderModule(model, [f"i{i}" for i in range(num_items)],
                                      np.random.default_rng(0).random(num_items), index=index)
    path = os.path.join(folder, f"history-{num_items}")
    tf.saved_model.save(module, path, signatures=module.signatures())
    return path


def synthetic_ranker(num_users, num_items, rng):
    """An untrained `TextRanking` of the video recipe's shape, tables filled."""
    from tfllmrec.models import TextRanking

    model = TextRanking(num_users, num_items, embedding_dim=64, text_dim=384, max_history=1000, l2=1e-4)
    model.set_training_data(np.ones(num_items), rng.normal(size=(num_items, 384)).astype("float32"),
                            [rng.choice(num_items, 100, replace=False) for _ in range(num_users)],
                            rng.integers(1, 6, 1000))
    model.predict_scores(tf.constant([0]), tf.constant([0]))
    return model


def synthetic_reranker(num_users, num_items, dim, rng, user_vectors, item_vectors):
    """An untrained `CandidateReranker` of the ecommerce recipe's shape (its
    scorer and heads from the recipe's `RERANK`), its state filled."""
    from tfllmrec.models import CandidateReranker
    from tfllmrec.recipes.presets.rerank import RERANK

    keys = np.unique(rng.integers(0, num_items, num_items * 50) * num_items + rng.integers(0, num_items, num_items * 50))
    model = CandidateReranker(num_users, num_items, dim, text_dim=384, num_periods=600, num_pairs=len(keys),
                              hidden_units=RERANK.hidden_units, heads=RERANK.folds)
    model.set_item_statistics(rng.integers(0, 50, num_items), rng.normal(size=(num_items, 384)),
                              rng.integers(-1, 600, num_items), (keys, rng.integers(1, 5, len(keys))))
    model.user_vectors.assign(user_vectors)
    model.item_vectors.assign(item_vectors)
    model.recent.assign(rng.integers(0, num_items, (num_users, model.recent_items)).astype("int32"))
    model.user_period.assign(np.full(num_users, 599, np.int32))
    model.score_candidates(tf.constant([0]), tf.constant([[0]]))
    return model


def synthetic_export(num_items, folder, dim=128, num_users=1000, seed=0, ranker=None, index=None):
    """A retrieval-only SavedModel over random vectors (`ranker`: None, "rating"
    or "rerank" adds that ranking stage); returns its path."""
    from tfllmrec.export import RecommenderModule

    rng = np.random.default_rng(seed)
    user_vectors = rng.normal(size=(num_users, dim)).astype("float32")
    item_vectors = rng.normal(size=(num_items, dim)).astype("float32")
    stage = {None: lambda: None, "rating": lambda: synthetic_ranker(num_users, num_items, rng),
             "rerank": lambda: synthetic_reranker(num_users, num_items, dim, rng, user_vectors, item_vectors)}
    module = RecommenderModule(
        [f"u{i}" for i in range(num_users)], [f"i{i}" for i in range(num_items)], user_vectors, item_vectors,
        [sorted(rng.choice(num_items, 20, replace=False).tolist()) for _ in range(num_users)],
        rng.random(num_items).astype("float32"),
        ranker=stage[ranker](), index=index,
    )
    path = os.path.join(folder, str(num_items))
    tf.saved_model.save(module, path, signatures=module.signatures())
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("saved_model", nargs="?")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--synthetic-items", type=int, nargs="*", default=[])
    parser.add_argument("--ranker", choices=("rating", "rerank"),
                        help="synthetic exports with this kind of ranking stage")
    parser.add_argument("--history", type=int, default=0,
                        help="also a sequential model's recommend_by_history over a history of this length")
    parser.add_argument("--index", choices=("brute", "ivf"), default="brute",
                        help="how the synthetic exports find items (export.index)")
    args = parser.parse_args()
    if args.synthetic_items:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            for size in args.synthetic_items:
                requests = max(200, args.requests * 1682 // size)
                index = index_options(args.index, size)
                retrieval_p99 = report(synthetic_export(size, folder, ranker=args.ranker, index=index), requests)
                if args.history:
                    report_history(synthetic_history_export(size, folder, args.history, index), size,
                                   args.history, requests, retrieval_p99)
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
    print(f"{'batch':>6s} {'p50 ms':>8s} {'p99 ms':>8s}  signature")
    k = tf.constant(10)
    results = {}
    for batch in (1, 64):
        p50, p99 = measure(signature, users, batch, requests if batch == 1 else max(50, requests // 4), k=k)
        results[batch] = p99
        print(f"{batch:6d} {p50:8.3f} {p99:8.3f}  recommend_k")
    print(f"RESULT serving_p99_ms_batch1_{num_items}_items {results[1]:.3f}")
    if "recommend_ranked" in loaded.signatures:
        p50, p99 = measure(loaded.signatures["recommend_ranked"], users, 1, requests)
        print(f"{1:6d} {p50:8.3f} {p99:8.3f}  recommend_ranked (two stages)")
        print(f"RESULT two_stage_p99_ms_batch1_{num_items}_items {p99:.3f} "
              f"({p99 / results[1]:.1f}x retrieval alone)")
    return results[1]


def report_history(saved_model, num_items, length, requests, retrieval_p99):
    signature = tf.saved_model.load(saved_model).signatures["recommend_by_history"]
    p50, p99 = measure_history(signature, num_items, length, requests)
    print(f"{1:6d} {p50:8.3f} {p99:8.3f}  recommend_by_history ({length}-item history, {num_items} items)")
    print(f"RESULT history_p99_ms_batch1_{num_items}_items {p99:.3f} "
          f"({p99 / retrieval_p99:.1f}x the user-vector lookup's recommend_k)")


if __name__ == "__main__":
    main()
