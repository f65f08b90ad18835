"""Brute force against our IVF index against faiss IVF-Flat, on synthetic clustered catalogues.

For each catalogue size: the same item and user vectors (128-d, unit norm,
items around `size / 100` cluster centres, users near items, 20 seen items
each) are served by
- brute force: `RecommenderModule`, every item scored;
- ours: `RecommenderModule(index=IVFIndex(...))`, `--partitions` (default
  sqrt(size)) and `--probe`;
- faiss: `IndexIVFFlat` (inner product) with the same partitions, its nprobe
  raised until its recall@10 reaches ours;
and prints build seconds, SavedModel size, p50/p99 latency at batch 1 and 64
(`recommend_k`, k = 10, through `tf.saved_model.load`; faiss `search`) and
recall@10 against brute force, then RESULT lines with the ratios. With
`--serve`, the IVF export of each size is also loaded by `tfllmrec serve`'s
server and asked one REST request.

With `--runs`, the same over trained run folders' own catalogues and users,
with "same 10": the share of users whose top 10 equals brute force's.

Usage (2 CPU cores; faiss-cpu is in the `bench` extra):
    python benchmarks/ivf_index.py --sizes 100000 1000000 5000000 [--probe 24] [--serve]
    python benchmarks/ivf_index.py --sizes --runs runs/video runs/music
"""

import argparse
import gc
import os
import tempfile
import time

import numpy as np

import tfllmrec  # noqa: F401  (tf-keras before TensorFlow)
import tensorflow as tf

from tfllmrec.export import RecommenderModule

DIM, USERS, SEEN, K = 128, 1000, 20, 10
WITH_FAISS = True  # --no-faiss: ours against brute force only


def catalogue(size, seed=0, cluster_size=1000, spread=0.6):
    """(items [size, 128], users [1000, 128], seen lists): clustered, unit-norm vectors.

    Items lie around `size / cluster_size` random centres, `spread` (per
    coordinate, against the centres' 1) away; users near random items."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, size // cluster_size), DIM)).astype(np.float32)
    items = np.empty((size, DIM), np.float32)
    for start in range(0, size, 500_000):  # in chunks: 5M x 128 floats twice would not fit beside the rest
        stop = min(size, start + 500_000)
        items[start:stop] = centres[rng.integers(0, len(centres), stop - start)]
        items[start:stop] += spread * rng.normal(size=(stop - start, DIM)).astype(np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    users = items[rng.choice(size, USERS, replace=False)] + spread / 2 * rng.normal(size=(USERS, DIM)).astype(
        np.float32)
    users /= np.linalg.norm(users, axis=1, keepdims=True)
    seen = [np.sort(rng.choice(size, SEEN, replace=False)).tolist() for _ in range(USERS)]
    return items, users, seen


def export(items, users, seen, folder, index=None):
    module = RecommenderModule([f"u{i}" for i in range(USERS)], [f"i{i}" for i in range(len(items))], users, items,
                               seen, np.zeros(len(items), np.float32), index=index)
    tf.saved_model.save(module, folder, signatures=module.signatures())
    del module
    gc.collect()  # a catalogue of millions: the next step needs the memory
    return folder, sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs)


def latency(call, batches, requests):
    """(p50, p99) milliseconds of `call(batch)` over `requests` calls, after a warm-up."""
    for batch in batches[:5]:
        call(batch)
    times = []
    for i in range(requests):
        start = time.perf_counter()
        call(batches[i % len(batches)])
        times.append((time.perf_counter() - start) * 1000)
    return np.percentile(times, 50), np.percentile(times, 99)


def served(path):
    signature = tf.saved_model.load(path).signatures["recommend_k"]
    k = tf.constant(K)

    def top(user_ids):
        return signature(user_id=tf.constant(user_ids), k=k)["item_ids"].numpy()

    return top


def exact_top(users, items, chunk=50):
    """Exact top-K item indices by inner product, a few users at a time (a full score matrix would not fit)."""
    top = []
    for i in range(0, len(users), chunk):
        scores = users[i:i + chunk] @ items.T
        best = np.argpartition(-scores, K, axis=1)[:, :K]
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1)
        top.append(np.take_along_axis(best, order, axis=1))
    return np.concatenate(top)


def recall(found, truth):
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, truth)]))


def faiss_at_recall(items, users, partitions, target, truth_ids):
    """faiss IVF-Flat with `partitions` lists and the smallest nprobe reaching `target` recall@10."""
    import faiss

    faiss.omp_set_num_threads(tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count())
    start = time.time()
    dim = items.shape[1]
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, partitions, faiss.METRIC_INNER_PRODUCT)
    index.train(items)
    index.add(items)
    build = time.time() - start
    for nprobe in (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512):
        index.nprobe = min(nprobe, partitions)
        found = index.search(users, K)[1]
        if recall(found, truth_ids) >= target or nprobe >= partitions:
            return index, build, recall(found, truth_ids), index.nprobe
    return index, build, recall(found, truth_ids), index.nprobe


def run_size(size, probe, partitions, precision, requests, serve, folder, cluster_size, spread):
    items, users, seen = catalogue(size, cluster_size=cluster_size, spread=spread)
    partitions = partitions or int(round(np.sqrt(size)))
    ids = [f"u{i}" for i in range(USERS)]
    start = time.time()
    brute_path, brute_bytes = export(items, users, seen, os.path.join(folder, f"brute-{size}"))
    brute_build = time.time() - start
    start = time.time()
    index = dict(partitions=partitions, probe=probe, precision=precision)
    ivf_path, ivf_bytes = export(items, users, seen, os.path.join(folder, f"ivf-{size}", "1"), index)
    build = time.time() - start  # k-means and the partitions, with the SavedModel written
    rows = compare(served(brute_path), served(ivf_path), ids, requests, size)
    gc.collect()
    rows["brute"].update(build=brute_build, bytes=brute_bytes)
    rows["ours"].update(build=build, bytes=ivf_bytes)
    # faiss masks no seen items: its recall is measured against exact inner-product search.
    if size <= 1_000_000:
        exact = exact_top(users, items)
        rows.update(faiss_rows(items, users, partitions, rows["ours"]["recall"], exact, requests))
    _print(f"{size:,} items", partitions, probe, rows)
    if serve:
        _serve_check(os.path.join(folder, f"ivf-{size}"), ids[0])


def compare(brute, ours, ids, requests, num_items):
    """Latency and recall@10 of two served exports over the users `ids` (recall: ours against brute)."""
    chunk = max(1, min(100, 200_000_000 // num_items))  # brute force scores chunk x num_items at once
    truth = np.concatenate([brute(ids[i:i + chunk]) for i in range(0, len(ids), chunk)])
    found = np.concatenate([ours(ids[i:i + chunk]) for i in range(0, len(ids), chunk)])
    rows = {"brute": dict(recall=1.0), "ours": dict(recall=recall(found, truth))}
    rows["ours"]["same_top"] = float(np.mean([set(a) == set(b) for a, b in zip(found, truth)]))
    sample = ids[:1000]
    batches = {b: [sample[i:i + b] for i in range(0, len(sample) - b + 1, b)] for b in (1, 64)}
    for name, call in (("brute", brute), ("ours", ours)):
        for b in (1, 64):
            rows[name][b] = latency(call, batches[b], requests if b == 1 else max(20, requests // 8))
    return rows


def faiss_rows(items, users, partitions, target, exact, requests):
    if not WITH_FAISS:
        return {}
    findex, fbuild, frecall, nprobe = faiss_at_recall(items, users, partitions, target, exact)
    row = dict(build=fbuild, bytes=None, recall=frecall)
    vectors = {b: [users[i:i + b] for i in range(0, min(1000, len(users)) - b + 1, b)] for b in (1, 64)}
    for b in (1, 64):
        row[b] = latency(lambda q: findex.search(q, K), vectors[b], requests if b == 1 else max(20, requests // 8))
    return {f"faiss (nprobe {nprobe})": row}


def run_real(run_dir, probe, partitions, precision, requests, folder):
    """The same comparison on a trained run's own catalogue and users (`tfllmrec export --index ivf`)."""
    from tfllmrec.recipes.export_config import ExportConfig
    from tfllmrec.recipes.export_run import build_module
    from tfllmrec.recipes.trained_run import TrainedRun

    run = TrainedRun(run_dir)
    name = os.path.basename(os.path.normpath(run_dir))
    paths, rows_bytes = {}, {}
    for kind, config in (("brute", ExportConfig()), ("ours", ExportConfig(index="ivf", partitions=partitions,
                                                                           probe=probe, precision=precision))):
        start = time.time()
        module = build_module(run, retrieval_only=True, export=config)
        paths[kind] = os.path.join(folder, f"{kind}-{name}")
        tf.saved_model.save(module, paths[kind], signatures=module.signatures())
        rows_bytes[kind] = (time.time() - start, sum(os.path.getsize(os.path.join(d, f))
                                                     for d, _, fs in os.walk(paths[kind]) for f in fs))
    ids = [str(u) for u in run.user_ids]
    rows = compare(served(paths["brute"]), served(paths["ours"]), ids, requests, len(run.item_ids))
    for kind, (build, size) in rows_bytes.items():
        rows[kind].update(build=build, bytes=size)
    items, users = module.item_vectors.numpy(), module.user_vectors.numpy()
    if module.item_offsets is not None:  # q . v + b as an inner product
        items = np.hstack([items, module.item_offsets.numpy()[:, None]])
        users = np.hstack([users, np.ones((len(users), 1), np.float32)])
    exact = exact_top(users, items)
    blocks = module.index.centroids.shape[0]
    rows.update(faiss_rows(items, users, blocks, rows["ours"]["recall"], exact, requests))
    _print(f"{name}: {len(items):,} items, {len(ids):,} users", module.index.centroids.shape[0], probe, rows)


def _print(what, partitions, probe, rows):
    print(f"\n{what}, {partitions} partitions, probe {probe}")
    print(f"{'index':20s} {'build s':>8s} {'MB':>8s} {'recall@10':>10s} {'same 10':>8s} {'b1 p50':>8s} "
          f"{'b1 p99':>8s} {'b64 p50':>8s} {'b64 p99':>8s}")
    for name, row in rows.items():
        size_mb = f"{row['bytes'] / 2**20:8.1f}" if row["bytes"] else f"{'-':>8s}"
        same = f"{row['same_top']:8.3f}" if "same_top" in row else f"{'-':>8s}"
        print(f"{name:20s} {row['build']:8.1f} {size_mb} {row['recall']:10.4f} {same} {row[1][0]:8.2f} "
              f"{row[1][1]:8.2f} {row[64][0]:8.2f} {row[64][1]:8.2f}")
    key = what.split(" ")[0].rstrip(":").replace(",", "")
    faiss = [row for name, row in rows.items() if name.startswith("faiss")]
    print(f"RESULT ivf_p99_ms_batch1_{key} {rows['ours'][1][1]:.3f}")
    print(f"RESULT ivf_recall_at_10_{key} {rows['ours']['recall']:.4f}")
    print(f"RESULT ivf_same_top10_share_{key} {rows['ours']['same_top']:.4f}")
    print(f"RESULT ivf_speedup_vs_brute_p99_batch1_{key} {rows['brute'][1][1] / rows['ours'][1][1]:.2f}")
    if faiss:
        print(f"RESULT ivf_p99_vs_faiss_batch1_{key} {rows['ours'][1][1] / faiss[0][1][1]:.2f}")


def _serve_check(root, user):
    from tfllmrec.serving import RestServer

    with RestServer(os.path.dirname(root), port=0) as server:
        status, body = server.handle("POST", f"/v1/models/{os.path.basename(root)}:predict",
                                     f'{{"instances": ["{user}"]}}'.encode())
    print(f"dev server: {status}, {body[:80]!r}...")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--runs", nargs="*", default=[], help="trained run folders: their own catalogues")
    parser.add_argument("--partitions", type=int, default=0, help="0: sqrt(size)")
    parser.add_argument("--probe", type=int, default=24)
    parser.add_argument("--precision", default="bfloat16", choices=["float32", "bfloat16"])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--cluster-size", type=int, default=1000, help="items per synthetic cluster")
    parser.add_argument("--spread", type=float, default=0.6, help="items' distance from their centre")
    parser.add_argument("--serve", action="store_true", help="also answer one REST request through the dev server")
    parser.add_argument("--no-faiss", action="store_true", help="leave faiss out (it is in the bench extra)")
    args = parser.parse_args()
    global WITH_FAISS
    WITH_FAISS = not args.no_faiss
    if WITH_FAISS:
        try:
            import faiss  # noqa: F401
        except ImportError:
            parser.error("faiss is not installed: `pip install -e '.[bench]'`, or pass --no-faiss")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            run_size(size, args.probe, args.partitions, args.precision, args.requests, args.serve, folder,
                     args.cluster_size, args.spread)
        for run_dir in args.runs:
            run_real(run_dir, args.probe, args.partitions, args.precision, args.requests, folder)


if __name__ == "__main__":
    main()
