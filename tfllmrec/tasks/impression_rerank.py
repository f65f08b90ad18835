"""The reranking stage of the news recipe: a `CandidateReranker` over each impression's candidates.

It learns from the validation impressions, which ours never trained on:
of those with a click and a non-click, 80% train it, listwise, and its
best epoch is picked on `eval.monitor` over the other 20% (with
`ranking.folds` > 1, every one trains all heads but one and is measured by
that one, as in `tfllmrec.tasks.rerank`); it then scores every test
impression. Ours' per-item offset (the click-through-rate prior,
`model.ctr_prior_weight`) is one of its features, so the row to beat is the
prior alone (the `ctr` baseline), measured in the same run.
"""

import numpy as np
import tensorflow as tf

from tfllmrec.errors import DataError
from tfllmrec.tasks.phase import Phase
from tfllmrec.tasks.rerank import fit_reranker, list_folds


def impression_rerank_phases(ranking):
    """The news reranking stage's phase."""
    return [Phase("ranking", "reranker: each impression's candidates re-scored (CandidateReranker, listwise)",
                  "rerank", workdir="ranking")]


def impression_scores(reranker, users, items, batch=1024, heads=None):
    """One score per real candidate of padded lists, in the lists' order
    (`heads`: the head that scores each list, or None: the heads' mean)."""
    parts = [reranker.score_candidates(tf.constant(users[i:i + batch], tf.int32),
                                       tf.constant(items[i:i + batch], tf.int32),
                                       heads=None if heads is None else tf.constant(heads[i:i + batch])).numpy()
             for i in range(0, len(users), batch)]
    scores = np.concatenate(parts) if parts else np.zeros(items.shape, np.float32)
    return scores[items >= 0]


def train_impression_reranker(config, data, retrieval, text_table, workdir, verbose):
    """Trains the reranker on validation impressions and measures it on the
    test ones; returns `{"test", "training"}` as every phase does."""
    ks = tuple(config.eval.ks)
    users, items, labels = data.lists("valid")
    clicks, shown = labels.sum(1), (items >= 0).sum(1)
    mixed = np.flatnonzero((clicks > 0) & (clicks < shown))  # a list of one kind ranks nothing
    if len(mixed) < 2:
        raise DataError(f"The validation impressions hold {len(mixed)} with both a click and a non-click; "
                        "the reranker learns from some and picks its epoch on others. Fix: a larger "
                        "validation part (data.ratios), or ranking.enabled=false.")
    folds = config.ranking.folds
    fold = np.full(len(users), -2, np.int32)  # -2: teaches nothing, measured nowhere
    fold[mixed] = list_folds(len(mixed), folds, config.ranking.train.seed)
    holdout = fold >= 0
    teaches = (fold == -1) | (holdout & (folds > 1))

    def validate(reranker):
        scores = impression_scores(reranker, users, items, heads=np.maximum(fold, 0))
        return data.evaluate_scores("valid", scores, ks, impressions=np.flatnonzero(holdout))

    reranker, fit = fit_reranker(config, retrieval, data.histories,
                                 (users[teaches], items[teaches], labels[teaches], fold[teaches]), validate,
                                 workdir, verbose, data.trained_items(), text_table)
    test_users, test_items, _ = data.lists("test")
    counts = {"train_lists": int(teaches.sum()), "holdout_impressions": int(holdout.sum())}
    return {"test": data.evaluate_scores("test", impression_scores(reranker, test_users, test_items), ks),
            "training": dict(fit, lists=counts)}
