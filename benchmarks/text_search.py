"""Free-text search on Last.fm-2k: a tag as the query, the artists users tagged with it as relevant.

Queries: `tfllmrec.data.lastfm.tag_queries` draws `--queries` tags (seeded)
among those applied to at least 10 catalogue artists by at least 3 users.
The same tags are held out of the item texts (`load_lastfm_2k(...,
held_out_tags=N)`, a music run's `data.held_out_tags`), in every spelling,
the next most frequent tags taking their places: a search must find
"post-punk" artists by their other tags and names, not by the word.

Rows of the table (Recall@10, NDCG@10, `RankingEvaluator`'s definitions,
every item ranked per query):
- ours: the run's `recommend_for_text` scores (its `search:` blend,
  `tfllmrec.towers.text_placement.search_scores`), with `--run` only; and
  two of its parts alone: the trained text path (text-only query vector .
  `search_vectors()`) and popularity (log users per item);
- plain cosine: the pretrained encoder (the run's `model.encoder` preset and
  `model.sequence_length`, else the music recipe's), query vs item text;
- BM25 (bm25s, Lucene variant, `tfllmrec.evaluation.text_search.bm25_scores`) over the
  same item texts;
- blend (with `--run`): w * z(plain cosine) + (1 - w) * z(ours), z-scored
  per query, w chosen by NDCG@10 on a seeded half of the queries and
  reported on the other half, where every row is reported too.

Ends with RESULT lines (NDCG@10 on all queries; the blend's on the test
half), ours (or plain cosine, without `--run`) last. `--smoke`: the tiny
random encoder and 20 queries, to check the script runs.

Usage:
    python benchmarks/text_search.py [--run RUN_FOLDER] [--data LASTFM_FOLDER]
        [--queries 200] [--threads 1] [--smoke]
    (a run: tfllmrec train music --set data.path=../shared/datasets/lastfm-2k
     --set data.held_out_tags=200)
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

_common.quiet_tensorflow()

K = 10


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a trained music run folder (data.held_out_tags > 0)")
    parser.add_argument("--data", help="the Last.fm-2k folder (default: the run's data.path, "
                                       "else ../shared/datasets/lastfm-2k)")
    parser.add_argument("--queries", type=int, default=None,
                        help="query tags without --run (default 200; --smoke 20); a run's own "
                             "data.held_out_tags with --run")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow intra-op threads")
    parser.add_argument("--smoke", action="store_true", help="tiny random encoder, 20 queries")
    return parser.parse_args(argv)


def catalogue(args):
    """(run or None, data folder, item ids, item texts, query count, encoder preset, sequence length)."""
    from tfllmrec.recipes import get_recipe

    if not args.run:
        folder = Path(args.data) if args.data else _common.shared_dir() / "datasets" / "lastfm-2k"
        count = args.queries if args.queries is not None else (20 if args.smoke else 200)
        from tfllmrec.data.lastfm import load_lastfm_2k

        items = load_lastfm_2k(folder, held_out_tags=count).items
        model = get_recipe("music").model
        preset, length = ("tiny-random", 32) if args.smoke else (model.encoder, model.sequence_length)
        return None, folder, list(items.ids), [str(t) for t in items.texts()], count, preset, length
    from tfllmrec.recipes.trained_run import TrainedRun

    run = TrainedRun(args.run)
    data = run.config.data
    if data.dataset != "lastfm-2k" or not data.held_out_tags:
        sys.exit(f"{args.run} was trained with data.dataset={data.dataset} and data.held_out_tags="
                 f"{data.held_out_tags}: its item texts hold the query tags, so search would be string "
                 "matching. Fix: train `tfllmrec train music --set data.path=../shared/datasets/lastfm-2k "
                 "--set data.held_out_tags=200` and pass that run.")
    if args.queries is not None and args.queries != data.held_out_tags:
        sys.exit(f"--queries {args.queries}: the run held out data.held_out_tags={data.held_out_tags} "
                 "tags, and the queries are those. Fix: leave --queries out.")
    folder = Path(args.data or data.path or _common.shared_dir() / "datasets" / "lastfm-2k")
    model = run.config.model
    return (run, folder, [str(i) for i in run.item_ids], [str(t) for t in run.item_texts],
            data.held_out_tags, model.encoder, model.sequence_length)


def run_scores(run, queries, item_ids):
    """[num_queries, num_items]: each query's `recommend_for_text` score of every item."""
    position = {item: i for i, item in enumerate(item_ids)}
    scores = np.empty((len(queries), len(item_ids)), np.float64)
    for row, query in enumerate(queries):
        for item, _, score in run.recommend_for_text(query, k=len(item_ids)):
            scores[row, position[item]] = score
    return scores


def component_scores(run, queries, item_ids):
    """Two parts of the run's search on their own: the trained text path
    (search weights 0, 1, 0: the search before the blend) and popularity."""
    import dataclasses

    from tfllmrec.recipes.search_config import SearchConfig

    shipped = run.config
    run.config = dataclasses.replace(shipped, search=SearchConfig())
    try:
        trained = run_scores(run, queries, item_ids)
    finally:
        run.config = shipped
    popularity = np.tile(np.log1p(run.item_counts()), (len(queries), 1))
    return {"trained text path alone": trained, "popularity alone": popularity}


def method_rows(methods, positives, test_rows, blend):
    """Table rows: method, queries, metrics on all queries, metrics on the test half."""
    from tfllmrec.evaluation import search_metrics

    rows, ndcg = [], {}
    for name, scores in methods.items():
        every, test = search_metrics(scores, positives, k=K), search_metrics(scores, positives, test_rows, K)
        ndcg[name] = every[f"ndcg@{K}"]
        rows.append([name, every["queries"], f"{every[f'recall@{K}']:.4f}", f"{ndcg[name]:.4f}",
                     f"{test[f'recall@{K}']:.4f}", f"{test[f'ndcg@{K}']:.4f}"])
    if blend is not None:
        test = search_metrics(blend[2], positives, test_rows, K)
        ndcg["blend"] = test[f"ndcg@{K}"]
        rows.append([f"blend (w = {blend[0]:.2f})", test["queries"], "-", "-",
                     f"{test[f'recall@{K}']:.4f}", f"{test[f'ndcg@{K}']:.4f}"])
    return rows, ndcg


def main(argv=None):
    args = parse_args(argv)
    import tfllmrec  # noqa: F401  (selects tf-keras before TensorFlow loads)

    _common.set_threads(args.threads)
    from tfllmrec.data.lastfm import QUERY_MIN_ARTISTS, QUERY_MIN_USERS, QUERY_SEED, tag_queries
    from tfllmrec.encoders import TextEncoder
    from tfllmrec.evaluation.text_search import (align_queries, bm25_scores, choose_blend, cosine_scores,
                                                 split_queries)

    run, folder, item_ids, item_texts, count, preset, length = catalogue(args)
    queries, positives = align_queries(tag_queries(folder, count), item_ids)
    encoder = TextEncoder.from_preset(preset, sequence_length=length)
    methods = {}
    if run is not None:
        methods["ours (recommend_for_text)"] = run_scores(run, queries, item_ids)
        methods.update(component_scores(run, queries, item_ids))
    methods["plain cosine"] = cosine_scores(encoder.encode(queries), encoder.encode(item_texts))
    methods["BM25"] = bm25_scores(item_texts, queries)
    valid_rows, test_rows = split_queries(len(queries))
    blend = None
    if run is not None:
        blend = choose_blend(methods["plain cosine"], methods["ours (recommend_for_text)"], positives,
                             valid_rows, k=K)
    rows, ndcg = method_rows(methods, positives, test_rows, blend)

    sizes = np.array([len(p) for p in positives])
    print(f"Free-text search on Last.fm-2k ({folder}): {len(queries)} tag queries (applied to >= "
          f"{QUERY_MIN_ARTISTS} artists by >= {QUERY_MIN_USERS} users, seed {QUERY_SEED}), held out of "
          f"the item texts; {len(item_ids)} items; relevant artists per query: mean {sizes.mean():.1f}, "
          f"median {np.median(sizes):.0f}")
    print(f"Run: {args.run or 'none'}; encoder {preset}, sequence_length {length}; test half: "
          f"{len(test_rows)} queries (the blend's weight chosen on the other {len(valid_rows)})")
    print(f"Machine: {_common.machine()}; {_common.versions('tensorflow', 'keras_hub')}")
    _common.print_table(["method", "queries", f"Recall@{K}", f"NDCG@{K}", f"Recall@{K} (test half)",
                         f"NDCG@{K} (test half)"], rows)
    if blend is not None:
        print(f"Blend: w * z(plain cosine) + (1 - w) * z(ours), w = {blend[0]:.2f} (validation "
              f"NDCG@{K} {blend[1]:.4f})")
    names = {"BM25": "bm25", "plain cosine": "cosine", "blend": "blend_test_half",
             "ours (recommend_for_text)": "ours", "trained text path alone": "trained_path",
             "popularity alone": "popularity"}
    for name in sorted(ndcg, key=lambda n: n.startswith("ours")):
        print(f"RESULT text_search_ndcg_at_{K}_{names[name]} {ndcg[name]:.4f}")


if __name__ == "__main__":
    main()
