"""`ImpressionEvaluator`: the MIND leaderboard metrics, averaged per impression."""

import numpy as np

from tfllmrec.evaluation._checks import check_ks


class ImpressionEvaluator:
    """Computes mean AUC, MRR and nDCG@K over impressions (MIND's protocol).

    An impression is one page view: the candidate news shown, the model's
    scores and binary click labels. Per impression, as in MIND's evaluation
    script (`evaluate.py` of the MIND leaderboard):

    - auc: the Mann-Whitney statistic, P(score of a clicked > score of a
      non-clicked), a tie counting 1/2 (equal to sklearn's `roc_auc_score`).
    - mrr: sort by score descending; sum over clicked items of 1 / rank,
      divided by the number of clicked items.
    - ndcg@K: DCG of the top-K by score over DCG of the top-K by label, with
      gain 2**label - 1 and discount log2(rank + 1).

    Each metric is the plain mean over impressions. Impressions without a
    click are skipped for every metric (MRR and nDCG divide by zero there);
    impressions with only clicks are skipped for AUC alone. `auc` is NaN when
    no impression has both a click and a non-click. Equal scores in MRR and
    nDCG are ordered as MIND's `np.argsort(y_score)[::-1]` with a stable sort
    orders them: the later candidate in the impression ranks first.

    Args:
        chunk_items: int. Impressions are processed in vectorised chunks of
            about this many candidates, which bounds memory on MIND-large.

    Attributes:
        last_num_impressions: int or None. Impressions averaged for mrr and
            ndcg in the last call (those with at least one click).
        last_num_auc_impressions: int or None. Impressions averaged for auc.

    Example:
        >>> ev = ImpressionEvaluator()
        >>> ev.evaluate([([0.9, 0.2, 0.4], [0, 1, 0])], ks=(1, 3))
        {'auc': 0.0, 'mrr': 0.3333333333333333, 'ndcg@1': 0.0, 'ndcg@3': 0.5}
    """

    def __init__(self, chunk_items=1 << 20):
        if isinstance(chunk_items, bool) or not isinstance(chunk_items, int) or chunk_items < 1:
            raise ValueError(f"chunk_items={chunk_items!r}; pass an int >= 1.")
        self.chunk_items = chunk_items
        self.last_num_impressions = None
        self.last_num_auc_impressions = None

    def evaluate(self, impressions, ks=(5, 10)):
        """Returns the mean metrics over an iterable of impressions.

        Args:
            impressions: iterable of (scores, labels) pairs; scores an
                array-like [c] of float, labels an array-like [c] of 0/1 (or
                bool), one entry per candidate. Read once, so a generator works.
            ks: int or tuple of int. nDCG cut-offs, e.g. (5, 10) or (3, 5, 6, 10).

        Returns:
            dict with "auc", "mrr", then "ndcg@K" for each K; float values.

        Raises:
            ValueError: an impression is malformed (lengths differ, empty, NaN
                scores, non-binary labels), or no impression has a click.
        """
        ks = check_ks(ks)
        totals = dict.fromkeys(["auc", "mrr"] + [f"ndcg@{k}" for k in ks], 0.0)
        counts = {"clicked": 0, "auc": 0}
        scores, labels, buffered, first = [], [], 0, 0
        for index, impression in enumerate(impressions):
            s, y = self._pair(impression, index)
            scores.append(s)
            labels.append(y)
            buffered += s.size
            if buffered >= self.chunk_items:
                self._chunk(scores, labels, first, ks, totals, counts)
                first = index + 1
                scores, labels, buffered = [], [], 0
        if scores:
            self._chunk(scores, labels, first, ks, totals, counts)

        if counts["clicked"] == 0:
            raise ValueError(
                "No impression has a clicked candidate (label 1); the metrics are "
                "undefined. Check that labels are aligned with the scores."
            )
        self.last_num_impressions = counts["clicked"]
        self.last_num_auc_impressions = counts["auc"]
        result = {}
        for key, total in totals.items():
            n = counts["auc"] if key == "auc" else counts["clicked"]
            result[key] = total / n if n else float("nan")
        return result

    @staticmethod
    def _pair(impression, index):
        try:
            scores, labels = impression
        except (TypeError, ValueError):
            raise ValueError(
                f"Impression {index} is not a (scores, labels) pair; yield "
                "`(scores, labels)` for each impression."
            ) from None
        scores = np.asarray(scores, dtype=np.float64).ravel()
        labels = np.asarray(labels).ravel()
        if scores.size != labels.size or scores.size == 0:
            raise ValueError(
                f"Impression {index} has {scores.size} scores and {labels.size} "
                "labels; give one score and one 0/1 label per shown candidate."
            )
        return scores, labels

    @staticmethod
    def _chunk(score_list, label_list, first, ks, totals, counts):
        """Adds one chunk's per-impression metric sums to `totals`."""
        sizes = np.array([s.size for s in score_list])
        starts = np.cumsum(sizes) - sizes
        group = np.repeat(np.arange(sizes.size), sizes)
        position = np.arange(group.size) - starts[group]
        s = np.concatenate(score_list)
        y = np.concatenate(label_list)
        bad = np.isnan(s) | ~np.isin(y, (0, 1))
        if bad.any():
            at = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"Impression {first + group[at]}, candidate {position[at]}: score "
                f"{s[at]} with label {y[at]!r}. Scores must not be NaN and labels "
                "must be 0 or 1 (clicked)."
            )
        y = y.astype(np.float64)
        num_groups = sizes.size
        clicks = np.bincount(group, weights=y, minlength=num_groups)
        clicked = clicks > 0
        both = clicked & (clicks < sizes)

        # Score descending, ties by later position first; groups stay in place,
        # so after sorting, element i still belongs to group[i].
        order = np.lexsort((-position, -s, group))
        rank = position + 1
        y_ranked = y[order]
        reciprocal = np.bincount(group, weights=y_ranked / rank, minlength=num_groups)
        totals["mrr"] += float((reciprocal[clicked] / clicks[clicked]).sum())

        discount = 1.0 / np.log2(np.arange(2, max(ks) + 2))
        ideal = np.concatenate([[0.0], np.cumsum(discount)])
        gains = y_ranked / np.log2(rank + 1)
        for k in ks:
            dcg = np.bincount(group, weights=np.where(rank <= k, gains, 0.0), minlength=num_groups)
            best = ideal[np.minimum(clicks, k).astype(np.int64)]
            totals[f"ndcg@{k}"] += float((dcg[clicked] / best[clicked]).sum())

        # Mann-Whitney: ascending 1-based ranks within the impression, tied
        # scores sharing the average of the ranks they span.
        order = np.lexsort((s, group))
        s_sorted = s[order]
        new_run = np.ones(s.size, dtype=bool)
        new_run[1:] = (group[1:] != group[:-1]) | (s_sorted[1:] != s_sorted[:-1])
        run_start = np.flatnonzero(new_run)
        run_end = np.append(run_start[1:], s.size) - 1
        run_rank = (position[run_start] + position[run_end]) / 2.0 + 1.0
        avg_rank = run_rank[np.cumsum(new_run) - 1]
        rank_sum = np.bincount(group, weights=y[order] * avg_rank, minlength=num_groups)
        pos, neg = clicks[both], sizes[both] - clicks[both]
        auc = (rank_sum[both] - pos * (pos + 1) / 2.0) / (pos * neg)
        totals["auc"] += float(auc.sum())
        counts["clicked"] += int(clicked.sum())
        counts["auc"] += int(both.sum())
