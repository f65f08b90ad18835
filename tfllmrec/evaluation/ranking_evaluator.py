"""`RankingEvaluator`: full-ranking top-K metrics with RecBole's definitions."""

import numpy as np

from tfllmrec.evaluation._checks import (
    as_index_array,
    as_scores,
    check_batch_size,
    check_ks,
    check_range,
)
from tfllmrec.evaluation._topk import top_k_indices

METRICS = ("recall", "ndcg", "hit", "mrr", "precision")


class RankingEvaluator:
    """Ranks every item for each user and averages top-K metrics over users.

    Per user, with binary relevance and `P` the user's positives (after
    dropping duplicates and, with `candidates`, items outside them):

    - recall@K = hits in top-K / |P|
    - precision@K = hits in top-K / K (K, not the list length, as in RecBole,
      also when fewer than K items can be ranked)
    - hit@K = 1 if any positive is in the top-K, else 0
    - mrr@K = 1 / rank of the first hit (1-based) if within K, else 0
    - ndcg@K = DCG / IDCG, DCG = sum over hit ranks r of 1 / log2(r + 1),
      IDCG = sum over r = 1 .. min(|P|, K) of 1 / log2(r + 1)

    Users without positives are skipped and do not count in the mean. The
    ranking is deterministic: by score descending, ties by lower item index
    (also for ties across the K-th place). Items set to -inf (excluded, or
    outside `candidates`) can still fill the list when fewer than K items are
    left, but they are never positives, so they never count as hits.

    Args:
        ks: int or tuple of int. Cut-offs K, each >= 1.
        metrics: tuple of str. Any of "recall", "ndcg", "hit", "mrr",
            "precision".

    Attributes:
        last_num_users: int or None. How many users the last `evaluate` call
            averaged over (users with at least one positive).

    Example:
        >>> import numpy as np
        >>> scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.3]], np.float32)
        >>> ev = RankingEvaluator(ks=(1, 2), metrics=("recall", "hit"))
        >>> ev.evaluate(lambda u: scores[u], np.array([0, 1]),
        ...             [np.array([2]), np.array([1])])
        {'recall@1': 0.5, 'recall@2': 1.0, 'hit@1': 0.5, 'hit@2': 1.0}
    """

    def __init__(self, ks=(5, 10, 20), metrics=METRICS):
        self.ks = check_ks(ks)
        if isinstance(metrics, str):
            metrics = (metrics,)
        metrics = tuple(str(m).lower() for m in metrics)
        unknown = [m for m in metrics if m not in METRICS]
        if unknown or not metrics or len(set(metrics)) != len(metrics):
            raise ValueError(
                f"metrics={metrics} is not a list of distinct known metrics "
                f"(unknown: {unknown}). Choose from {METRICS}."
            )
        self.metrics = metrics
        self.last_num_users = None

    def keys(self):
        """Returns the result keys, e.g. ["recall@5", ..., "precision@20"]."""
        return [f"{m}@{k}" for m in self.metrics for k in self.ks]

    def evaluate(self, score_fn, users, positives, exclude=None, candidates=None, batch_size=256):
        """Scores users in batches and returns the mean of each metric.

        Args:
            score_fn: callable. `score_fn(user_batch)` takes an int64 array of
                user indices and returns scores of shape
                [len(user_batch), num_items]; num_items is read from the first
                call and must stay the same.
            users: np.ndarray [n] of int. The users to evaluate.
            positives: list of n arrays of int. Each user's ground-truth items.
            exclude: list of n arrays of int (or None entries), or None. Items
                removed from each user's ranking (their training and validation
                items). An excluded positive raises ValueError (leakage).
            candidates: np.ndarray of int, or None. Rank only among these items
                (cold-start evaluation); positives outside them are dropped.
            batch_size: int. Users per `score_fn` call.

        Returns:
            dict mapping "metric@K" to float, in `keys()` order.

        Raises:
            ValueError: misaligned or out-of-range inputs, NaN scores, an
                excluded positive, or no user with a positive.
        """
        users = as_index_array(users, "users")
        batch_size = check_batch_size(batch_size)
        positives = self._aligned(positives, users, "positives")
        if exclude is not None:
            exclude = self._aligned(exclude, users, "exclude")
        if candidates is not None:
            candidates = np.unique(as_index_array(candidates, "candidates"))
            if candidates.size == 0:
                raise ValueError("candidates is empty; pass the items to rank among, or None.")
            positives = [p[np.isin(p, candidates)] for p in positives]
        kept = np.flatnonzero([p.size > 0 for p in positives])
        if kept.size == 0:
            raise ValueError(
                "No user has a positive item"
                + (" among the candidates" if candidates is not None else "")
                + "; there is nothing to evaluate. Check the test split."
            )

        max_k = max(self.ks)
        sums = dict.fromkeys(self.keys(), 0.0)
        num_items = None
        for start in range(0, kept.size, batch_size):
            rows = kept[start : start + batch_size]
            scores = as_scores(score_fn(users[rows]), (rows.size, num_items), "score_fn")
            if num_items is None:
                num_items = scores.shape[1]
                if num_items == 0:
                    raise ValueError("score_fn returned 0 columns; it must score every item.")
                if candidates is not None:
                    check_range(candidates, num_items, "candidates")
                    outside = np.ones(num_items, dtype=bool)
                    outside[candidates] = False
            pos_mask = self._mask([positives[r] for r in rows], num_items, "positives")
            if exclude is not None or candidates is not None:
                # Copy: never write -inf into an array the caller may own.
                scores = np.array(scores, copy=True)
            if exclude is not None:
                self._exclude(scores, pos_mask, [exclude[r] for r in rows], users[rows], num_items)
            if candidates is not None:
                scores[:, outside] = -np.inf
            top = top_k_indices(scores, min(max_k, num_items))
            hits = np.take_along_axis(pos_mask, top, axis=1)
            self._add(sums, hits, pos_mask.sum(axis=1))

        self.last_num_users = int(kept.size)
        return {key: total / kept.size for key, total in sums.items()}

    @staticmethod
    def _aligned(lists, users, name):
        lists = list(lists)
        if len(lists) != users.size:
            raise ValueError(
                f"{name} has {len(lists)} entries but users has {users.size}; "
                f"pass one {name} array per user, in the same order."
            )
        return [as_index_array(x, f"{name}[{i}]") for i, x in enumerate(lists)]

    @staticmethod
    def _mask(item_lists, num_items, name):
        """Boolean [len(item_lists), num_items] membership; duplicates collapse."""
        mask = np.zeros((len(item_lists), num_items), dtype=bool)
        flat = np.concatenate(item_lists)
        check_range(flat, num_items, name)
        rows = np.repeat(np.arange(len(item_lists)), [x.size for x in item_lists])
        mask[rows, flat] = True
        return mask

    def _exclude(self, scores, pos_mask, item_lists, batch_users, num_items):
        flat = np.concatenate(item_lists)
        check_range(flat, num_items, "exclude")
        rows = np.repeat(np.arange(len(item_lists)), [x.size for x in item_lists])
        leaked = pos_mask[rows, flat]
        if leaked.any():
            i = int(np.flatnonzero(leaked)[0])
            raise ValueError(
                f"User {batch_users[rows[i]]} has item {flat[i]} both as a positive "
                "and in exclude: the test item leaked into the training/validation "
                "items. Split the interactions so each one lands in one split only."
            )
        scores[rows, flat] = -np.inf

    def _add(self, sums, hits, num_pos):
        """Adds this batch's per-user metric sums to `sums`."""
        length = hits.shape[1]
        cum_hits = np.cumsum(hits, axis=1)
        discount = 1.0 / np.log2(np.arange(2, max(self.ks) + 2))
        ideal = np.cumsum(discount)
        dcg = np.cumsum(hits * discount[:length], axis=1)
        first = np.argmax(hits, axis=1)
        any_hit = hits.any(axis=1)
        for k in self.ks:
            # When fewer than K items exist, the whole list is the top-K.
            col = min(k, length) - 1
            n_hits = cum_hits[:, col]
            values = {
                "recall": lambda: n_hits / num_pos,
                "precision": lambda: n_hits / k,
                "hit": lambda: (n_hits > 0).astype(np.float64),
                "mrr": lambda: np.where(any_hit & (first < k), 1.0 / (first + 1), 0.0),
                "ndcg": lambda: dcg[:, col] / ideal[np.minimum(num_pos, k) - 1],
            }
            for metric in self.metrics:
                sums[f"{metric}@{k}"] += float(values[metric]().sum())
