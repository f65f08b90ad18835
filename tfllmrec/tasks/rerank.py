"""The reranking stage of a retrieval recipe: `CandidateReranker` over ours' shortlists.

It learns from the validation part, which the retrieval model never trained
on: each validation user's top `ranking.candidates` items from the trained
retrieval model, labelled by the user's validation items. The lists of 80%
of those users train it; its best epoch is picked on full-ranking
`eval.monitor` over the other 20%, the two stages together. With
`ranking.folds` K > 1 the users fall into K folds instead, and the reranker
has K heads: head k learns from every fold but k, the epoch is picked on
every user scored by the head that never saw their list (out of fold), and
the heads' mean scores test and serving. Test is then
measured as the retrieval stage's is (history: training and validation
items), so the two rows of the summary differ by the reranker alone.
"""

import numpy as np
import tensorflow as tf

from tfllmrec.evaluation import RankingEvaluator
from tfllmrec.evaluation._topk import top_k_indices
from tfllmrec.models import CandidateReranker
from tfllmrec.models.item_regression import ease_items
from tfllmrec.tasks.phase import Phase
from tfllmrec.training import epoch_dataset, train_model, training_scope

HOLDOUT_SHARE = 0.2
# Added to the shortlist's reranked scores, so it stays above the rest of the catalogue.
_ABOVE_THE_REST = 1e6


def rerank_phases(ranking):
    """The reranking stage's phase."""
    title = f"reranker: ours' top {ranking.candidates} re-ordered (CandidateReranker, listwise)"
    return [Phase("ranking", title, "rerank", workdir="ranking")]


def build_reranker(ranking, num_users, num_items, embedding_dim, text_dim=None, num_periods=0, num_pairs=0,
                   item_bias=False, num_purchases=0, second_dim=0, ease_capacity=0):
    """The `CandidateReranker` of a recipe's `RankingConfig` (objective
    "rerank"); `ease_capacity`: the items EASE's weights may cover."""
    return CandidateReranker(num_users=num_users, num_items=num_items, embedding_dim=embedding_dim,
                             text_dim=text_dim if ranking.use_text else None, num_periods=num_periods,
                             num_pairs=num_pairs if ranking.pair_window else 0, item_bias=item_bias,
                             num_purchases=num_purchases,
                             recent_items=ranking.recent_items, pair_cosine=ranking.pair_cosine,
                             neighbors=ranking.neighbors, second_dim=second_dim,
                             hidden_units=tuple(ranking.hidden_units),
                             cross_layers=ranking.cross_layers, heads=ranking.folds,
                             ease_items=ease_capacity if ranking.ease_l2 else 0, ease_l2=ranking.ease_l2 or 100.0)


def reranker_sample():
    """A one-list batch that builds every variable of a `CandidateReranker`."""
    # Two candidates: Keras warns of a softmax over one.
    return {"user": tf.constant([0]), "item": tf.constant([[0, 0]]), "label": tf.constant([[1.0, 0.0]])}


def item_pairs(histories, num_items, window):
    """Co-occurrence counts of items at most `window` places apart in a
    user's history, both ways round: (sorted keys `first * num_items +
    second`, counts). No pair at all gives one placeholder pair, count 0."""
    items = np.concatenate([np.asarray(h, np.int64) for h in histories] or [np.zeros(0, np.int64)])
    owners = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
    keys = []
    for gap in range(1, window + 1):
        same = (owners[:-gap] == owners[gap:]) & (items[:-gap] != items[gap:])
        first, second = items[:-gap][same], items[gap:][same]
        keys += [first * num_items + second, second * num_items + first]
    keys, counts = np.unique(np.concatenate(keys or [np.zeros(0, np.int64)]), return_counts=True)
    if not keys.size:  # a variable of size 0 cannot be searched
        return np.zeros(1, np.int64), np.zeros(1, np.float32)
    return keys, counts.astype(np.float32)


def retrieval_scores(retrieval, users, batch=1024):
    """`[len(users), num_items]` full-catalogue scores of the retrieval model as it stands."""
    users = np.asarray(users, np.int64)
    parts = [retrieval.score(tf.constant(users[i:i + batch], tf.int32)).numpy() for i in range(0, len(users), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, retrieval.num_items), np.float32)


def shortlists(scores, exclude, size):
    """Each row's `size` best items, its `exclude` items (seen ones) left out."""
    scores = scores.copy()
    for row, items in enumerate(exclude):
        scores[row, items] = -np.inf
    return top_k_indices(scores, min(size, scores.shape[1]))


def two_stage_scores(reranker, users, scores, shortlist, batch=256, heads=None):
    """Catalogue scores `[b, num_items]` of the two stages: the shortlist by the
    reranker's scores (`heads`: the head that scores each user, or None: their
    mean), above every other item, which keeps the retrieval order."""
    # float64: near -1e6 float32 steps by 1/16, which would tie most of the rest.
    combined = scores.astype(np.float64) - _ABOVE_THE_REST
    for start in range(0, len(users), batch):
        rows = slice(start, start + batch)
        reranked = reranker.score_candidates(tf.constant(users[rows], tf.int32),
                                             tf.constant(shortlist[rows], tf.int32),
                                             heads=None if heads is None else tf.constant(heads[rows])).numpy()
        np.put_along_axis(combined[rows], shortlist[rows], reranked, axis=1)
    return combined


def two_stage_evaluator(retrieval, targets, ks, size, heads=None):
    """A function of a reranker: full-ranking metrics of the two stages on
    (users, positives, exclude), each user scored by their head in `heads`
    (None: the heads' mean). The retrieval stage is scored once, here: it
    stays fixed while the reranker trains."""
    users, positives, exclude = targets
    scores = retrieval_scores(retrieval, users)
    shortlist = shortlists(scores, exclude, size)
    row_of = {user: row for row, user in enumerate(users)}

    def evaluate(reranker):
        combined = two_stage_scores(reranker, users, scores, shortlist, heads=heads)
        return RankingEvaluator(ks=ks).evaluate(lambda batch: combined[[row_of[u] for u in batch]],
                                                users, positives, exclude=exclude)

    return evaluate


def list_folds(count, folds, seed):
    """Each of `count` validation lists' fold: with `folds` 1, -1 (trains the
    reranker) or 0 (the 20% holdout that picks its epoch); else 0..folds-1,
    as even as they go (each fold is held out from its own head)."""
    order = np.random.default_rng(seed).permutation(count)
    fold = np.full(count, -1, np.int32)
    if folds == 1:
        fold[order[:max(1, int(round(HOLDOUT_SHARE * count)))]] = 0
    else:
        fold[order] = np.arange(count) % folds
    return fold


def validation_lists(retrieval, index, size, seed, folds=1):
    """(train lists, holdout targets, the head that scores each holdout user,
    counts): the shortlists, with labels and folds, of the validation users
    whose shortlist holds one of their validation items (the others teach
    nothing; with `folds` 1, of the 80% outside the holdout); the targets of
    the users the epoch is picked on; how many of each."""
    users, positives, exclude = index.targets("valid", ["train"])
    fold = list_folds(len(users), folds, seed)
    train = np.flatnonzero(fold != 0) if folds == 1 else np.arange(len(users))
    lists = shortlists(retrieval_scores(retrieval, users[train]), [exclude[i] for i in train], size)
    labels = np.stack([np.isin(row, positives[i]) for row, i in zip(lists, train)]).astype(np.float32)
    found = labels.sum(1) > 0
    pick = np.flatnonzero(fold >= 0)
    held = (users[pick], [positives[i] for i in pick], [exclude[i] for i in pick])
    counts = {"train_lists": int(found.sum()), "train_users": int(len(train)), "holdout_users": int(len(pick))}
    return (users[train][found], lists[found], labels[found], fold[train][found]), held, fold[pick], counts


def fit_reranker(config, retrieval, histories, lists, validate, workdir, verbose, item_counts, text_table=None,
                 purchases=None, second=None):
    """Builds a `CandidateReranker` that follows `retrieval` (its users
    holding `histories`) and trains it on `lists`; returns it and its record.

    Args:
        lists: (users `[n]`, items `[n, m]` (-1: padding), labels `[n, m]`,
            folds `[n]`: the head that does not learn from each; -1: none).
        validate: callable(reranker) -> the holdout metrics that pick the epoch.
        item_counts, text_table: `set_item_statistics`'s.
        purchases: (items, periods) of the training interactions, for a
            retrieval model with time periods.
        second: a second retrieval model whose score is a feature, or None.
    """
    ranking, train = config.ranking, config.ranking.train
    users, items, labels, folds = lists
    pairs = item_pairs(histories, retrieval.num_items, ranking.pair_window)
    last_periods, num_purchases = None, 0
    if retrieval.num_periods:
        last_periods = np.full(retrieval.num_items, -1, np.int64)
        np.maximum.at(last_periods, *purchases)
        num_purchases = len(purchases[0])
    # The items EASE may cover: at least 2, so the feature exists where none qualifies.
    ease_capacity = max(2, len(ease_items(histories, retrieval.num_items))) if ranking.ease_l2 else 0
    with training_scope(train):
        reranker = build_reranker(ranking, retrieval.num_users, retrieval.num_items, retrieval.embedding_dim,
                                  None if text_table is None else text_table.shape[1], retrieval.num_periods,
                                  len(pairs[0]), retrieval.item_bias, num_purchases,
                                  second.embedding_dim if second is not None else 0, ease_capacity)
        reranker.set_item_statistics(item_counts, text_table, last_periods, pairs, purchases)
        reranker.follow(retrieval, histories, second)
        reranker.set_standardization(users, items)
        fit = train_model(
            reranker, lambda epoch: epoch_dataset(users, items, train.batch_size, train.seed, epoch, labels=labels,
                                                  folds=folds if ranking.folds > 1 else None),
            reranker_sample(), train, lambda: validate(reranker), config.eval.monitor, workdir, verbose)
    return reranker, fit


def train_reranker(config, index, retrieval, text_table, workdir, verbose, second=None):
    """Trains the reranker on validation shortlists (`second`: the
    `ranking.second_retrieval` model, or None); returns it and its training record."""
    ranking = config.ranking
    days = retrieval.period_days if retrieval.num_periods else 0
    lists, held, heads, counts = validation_lists(retrieval, index, ranking.candidates, ranking.train.seed,
                                                  ranking.folds)
    reranker, fit = fit_reranker(
        config, retrieval, index.per_user("train"), lists,
        two_stage_evaluator(retrieval, held, tuple(config.eval.ks), ranking.candidates, heads),
        workdir, verbose, index.item_counts(), text_table,
        (index.train_items, index.periods(days, "train")) if days else None, second)
    return reranker, dict(fit, lists=counts)


def two_stage_lines(metrics, k):
    """The reranked test metrics beside the retrieval stage's alone (full ranking, then sampled)."""
    lines = []
    for protocol, key in (("full", "test"), ("sampled", "test_sampled")):
        if key not in metrics:
            continue
        names = [m for m in (f"recall@{k}", f"hit@{k}", f"ndcg@{k}") if m in metrics[key]]
        lines.append(f"{'two stages, ' + protocol:22s} " + " ".join(f"{n:>10s}" for n in names))
        for row, test in (("retrieval only", metrics[key]), ("ours, reranked", metrics["ranking"][key])):
            lines.append(f"{row:22s} " + " ".join(f"{test[n]:10.4f}" for n in names))
    return lines
