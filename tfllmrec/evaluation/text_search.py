"""Free-text search quality: Recall@K and NDCG@K of a query's relevant items.

The computation of benchmarks/text_search.py (NumPy, and bm25s for BM25): queries (for
Last.fm, `tfllmrec.data.lastfm.tag_queries`: a tag, and the artists users
tagged with it) are aligned to a catalogue, each method gives a
[num_queries, num_items] score matrix, and `RankingEvaluator` ranks every
item per query. `bm25_scores` is a lexical baseline; `choose_blend` mixes
two methods' per-query z-scores with a weight picked on half of the queries.
"""

import re

import numpy as np

from tfllmrec.evaluation.ranking_evaluator import RankingEvaluator

BLEND_GRID = tuple(round(w, 2) for w in np.linspace(0, 1, 21))
_TOKEN = re.compile(r"\w+")


def align_queries(queries, item_ids):
    """Query texts and, per query, the indices of its relevant items in `item_ids`.

    Args:
        queries: dict. Query text -> relevant item ids.
        item_ids: sequence of str. The catalogue, in score-column order.

    Returns:
        (list of str, list of np.ndarray of int). Relevant ids outside the
        catalogue are dropped; a query may end up with none (the evaluation
        then skips it).

    Example:
    >>> texts, positives = align_queries({"dub": ("7", "9"), "ska": ("3",)}, ["9", "3", "5"])
    >>> texts, [p.tolist() for p in positives]
    (['dub', 'ska'], [[0], [1]])
    """
    position = {str(item): i for i, item in enumerate(item_ids)}
    positives = [np.array(sorted(position[str(i)] for i in ids if str(i) in position), np.int64)
                 for ids in queries.values()]
    return list(queries), positives


def search_metrics(scores, positives, rows=None, k=10):
    """Mean recall@k and ndcg@k over queries (`RankingEvaluator`'s definitions).

    Args:
        scores: array [num_queries, num_items]. Higher ranks first; ties go to
            the lower item index.
        positives: list of num_queries arrays of item indices.
        rows: array of int or None. Only these queries; None: all.
        k: int. The cut-off.

    Returns:
        dict {"recall@k": float, "ndcg@k": float, "queries": int}.

    Example (query 0 finds 1 of its 2 items at rank 1, query 1 its item at rank 2):
    >>> scores = np.array([[0.9, 0.1, 0.5], [0.8, 0.7, 0.1]])
    >>> metrics = search_metrics(scores, [np.array([0, 2]), np.array([1])], k=1)
    >>> metrics["recall@1"], metrics["ndcg@1"], metrics["queries"]
    (0.25, 0.5, 2)
    """
    scores = np.asarray(scores)
    rows = np.arange(len(positives)) if rows is None else np.asarray(rows, np.int64)
    evaluator = RankingEvaluator(ks=(k,), metrics=("recall", "ndcg"))
    result = evaluator.evaluate(lambda batch: scores[batch], rows, [positives[r] for r in rows])
    return {**result, "queries": evaluator.last_num_users}


def zscore(scores):
    """Each row minus its mean, over its standard deviation (a constant row: zeros).

    >>> zscore(np.array([[1.0, 3.0], [2.0, 2.0]])).tolist()
    [[-1.0, 1.0], [0.0, 0.0]]
    """
    scores = np.asarray(scores, np.float64)
    centred = scores - scores.mean(axis=1, keepdims=True)
    spread = scores.std(axis=1, keepdims=True)
    return np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 0)


def split_queries(num_queries, seed=0):
    """A seeded half of the queries for choosing a weight, and the other half to report.

    >>> valid, test = split_queries(5)
    >>> sorted(np.concatenate([valid, test]).tolist()), len(valid)
    ([0, 1, 2, 3, 4], 2)
    """
    order = np.random.default_rng(seed).permutation(num_queries)
    return np.sort(order[: num_queries // 2]), np.sort(order[num_queries // 2:])


def choose_blend(first, second, positives, valid_rows, grid=BLEND_GRID, k=10):
    """The weight w of `w * zscore(first) + (1 - w) * zscore(second)` best on `valid_rows`.

    Args:
        first, second: arrays [num_queries, num_items]. Two methods' scores.
        positives: list of arrays. Each query's relevant item indices.
        valid_rows: array of int. The queries the weight is chosen on.
        grid: the weights tried, in [0, 1]; ties go to the first.
        k: int. Chosen by ndcg@k.

    Returns:
        (float weight, float its ndcg@k on `valid_rows`, the blended scores).

    Example (`first` ranks both queries right, `second` neither):
    >>> first, second = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> positives = [np.array([0]), np.array([1])]
    >>> weight, ndcg, _ = choose_blend(first, second, positives, [0, 1], grid=(0.0, 0.5, 1.0), k=1)
    >>> weight, ndcg
    (1.0, 1.0)
    """
    a, b = zscore(first), zscore(second)
    best = None
    for weight in grid:
        blended = weight * a + (1 - weight) * b
        ndcg = search_metrics(blended, positives, valid_rows, k)[f"ndcg@{k}"]
        if best is None or ndcg > best[1]:
            best = (float(weight), ndcg, blended)
    return best


def cosine_scores(query_vectors, item_vectors):
    """[num_queries, num_items] cosines between two sets of vectors (zero vectors: 0).

    >>> cosine_scores(np.array([[2.0, 0.0]]), np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])).round(3).tolist()
    [[1.0, 0.707, 0.0]]
    """
    def unit(x):
        x = np.asarray(x, np.float64)
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)

    return unit(query_vectors) @ unit(item_vectors).T


def tokens(text):
    """Lower-cased word tokens (letters, digits, underscore), as BM25 compares them.

    >>> tokens("Duran Duran. new wave, 80's")
    ['duran', 'duran', 'new', 'wave', '80', 's']
    """
    return _TOKEN.findall(str(text).lower())


def bm25_scores(documents, queries, k1=1.5, b=0.75):
    """BM25 (bm25s' Lucene variant) of every document for every query.

    score(q, d) = sum over distinct query terms t in d of
    idf(t) * tf / (tf + k1 * (1 - b + b * |d| / avgdl)),
    idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)); `tokens` splits the texts.
    `bm25s` (PyPI) is in the `baselines` extra.

    Args:
        documents: sequence of str. The item texts.
        queries: sequence of str.
        k1, b: float. Term-frequency saturation and length normalisation.

    Returns:
        np.ndarray [len(queries), len(documents)] of float64; 0 where a
        document shares no term with the query.

    Example:
    >>> bm25_scores(["new wave synth", "dub reggae", "reggae"], ["reggae"]).argmax(axis=1).tolist()
    [2]
    """
    try:
        import bm25s
    except ImportError:
        raise ImportError("BM25 needs the bm25s package: pip install 'tfllmrec[baselines]' "
                          "(or pip install bm25s).") from None
    retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
    retriever.index([tokens(d) for d in documents], show_progress=False)
    scores = np.zeros((len(queries), len(documents)), np.float64)
    for row, query in enumerate(queries):
        # bm25s scores a term it never indexed as an error: keep the known ones.
        known = [t for t in set(tokens(query)) if t in retriever.vocab_dict]
        if known:
            scores[row] = retriever.get_scores(known)
    return scores
