"""`IndexedImpressions`: an `ImpressionSplit` as integer arrays for training and scoring."""

import numpy as np

from tfllmrec.evaluation import ImpressionEvaluator

PARTS = ("train", "valid", "test")


class _Part:
    """One part's impressions, flattened: candidate j of impression i is at offsets[i] + j."""

    def __init__(self, frame, user_index, items):
        self.size = len(frame)
        self.users = np.array([user_index[u] for u in frame["user_id"]], np.int64)
        sizes = np.array([len(c) for c in frame["candidates"]], np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])
        flat = [c for candidates in frame["candidates"] for c in candidates]
        self.items = items.index_of(flat) if flat else np.zeros(0, np.int64)
        self.labels = np.array([y for labels in frame["labels"] for y in labels], np.int8)
        self.flat_users = np.repeat(self.users, sizes)


class IndexedImpressions:
    """Users, items, histories and impressions of a news dataset as indices.

    Users are every user of an impression or a history, sorted by id (the
    order `TrainedRun` looks them up in); items follow the `Items` table.

    Args:
        dataset: tfllmrec.data.Dataset with `impressions` and `histories`.
        split: tfllmrec.data.ImpressionSplit.
    """

    def __init__(self, dataset, split):
        histories = dataset.histories or {}
        users = set(dataset.impressions["user_id"]) | set(histories)
        self.user_ids = np.array(sorted(map(str, users)), dtype=str)
        self.item_ids = np.asarray(dataset.items.ids, dtype=str)
        self.num_users, self.num_items = len(self.user_ids), len(self.item_ids)
        user_index = {u: i for i, u in enumerate(self.user_ids)}
        self.histories = [[] for _ in range(self.num_users)]
        for user, items in histories.items():
            self.histories[user_index[str(user)]] = dataset.items.index_of(items).tolist() if items else []
        self.dropped_empty_history = split.dropped_empty_history
        self.parts = {name: _Part(getattr(split, name), user_index, dataset.items) for name in PARTS}

    def examples(self, negatives, seed, epoch):
        """Training examples: users `[n]` and items `[n, 1 + negatives]`.

        One example per click in a training impression: the clicked item
        first, then up to `negatives` of the impression's non-clicked
        candidates (drawn anew each epoch, by `seed` and `epoch`, when it has
        more), padded with -1. Clicks without a non-clicked candidate are left
        out: they teach nothing about the ranking within an impression.
        """
        part = self.parts["train"]
        rng = np.random.default_rng([seed, epoch])
        users, rows = [], []
        for i in range(part.size):
            lo, hi = part.offsets[i], part.offsets[i + 1]
            labels, items = part.labels[lo:hi], part.items[lo:hi]
            shown = items[labels == 0]
            for clicked in items[labels == 1]:
                if not shown.size:
                    continue
                picked = rng.choice(shown, negatives, replace=False) if shown.size > negatives else shown
                row = np.full(1 + negatives, -1, np.int64)
                row[0], row[1:1 + picked.size] = clicked, picked
                users.append(part.users[i])
                rows.append(row)
        return np.asarray(users, np.int64), np.asarray(rows, np.int64).reshape(-1, 1 + negatives)

    def click_counts(self, part="train"):
        """Clicks per item in a part's impressions, `[num_items]`."""
        p = self.parts[part]
        return np.bincount(p.items[p.labels == 1], minlength=self.num_items)

    def log_ctr_prior(self, strength):
        """Log smoothed click-through rate of each item in the training impressions.

        `log((clicks + strength * r) / (shown + strength))`, with r the click
        rate of all training candidates: an item shown rarely gets about
        log r, an item shown often its own rate.

        Returns:
            (array `[num_items]`, float log r: the value of an item never shown).
        """
        shown = np.bincount(self.parts["train"].items, minlength=self.num_items).astype(np.float64)
        clicks = self.click_counts("train")
        rate = clicks.sum() / max(shown.sum(), 1.0)
        if rate <= 0:
            raise ValueError("The training impressions hold no click: no click-through rate to "
                             "build a prior from. Fix: set model.ctr_prior_weight=0.")
        return np.log((clicks + strength * rate) / (shown + strength)), float(np.log(rate))

    def trained_items(self):
        """Impressions of each item in training (shown or in a history of a training user)."""
        p = self.parts["train"]
        counts = np.bincount(p.items, minlength=self.num_items)
        history = [i for u in np.unique(p.users) for i in self.histories[u]]
        return counts + np.bincount(np.asarray(history, np.int64), minlength=self.num_items)

    def seen(self):
        """Per user: the history, then news clicked in any impression (no repeats)."""
        seen = [list(h) for h in self.histories]
        for part in self.parts.values():
            clicked = part.labels == 1
            for user, item in zip(part.flat_users[clicked], part.items[clicked]):
                seen[user].append(int(item))
        return [list(dict.fromkeys(items)) for items in seen]

    def lists(self, part):
        """A part's impressions as lists: users `[n]`, items `[n, m]`
        (padded with -1 to the longest) and labels `[n, m]` (1: clicked)."""
        p = self.parts[part]
        sizes = np.diff(p.offsets)
        rows = np.repeat(np.arange(p.size), sizes)
        columns = np.arange(len(p.items)) - p.offsets[rows]
        items = np.full((p.size, int(sizes.max(initial=1))), -1, np.int64)
        labels = np.zeros(items.shape, np.float32)
        items[rows, columns], labels[rows, columns] = p.items, p.labels
        return p.users, items, labels

    def evaluate(self, part, user_vectors, item_vectors, ks, score_offset=None):
        """MIND's per-impression metrics of dot-product scores on a part.

        Args:
            user_vectors: array `[num_users, d]`; item_vectors: `[num_items, d]`.
            score_offset: array `[num_items]` or None, added to every score.

        Returns:
            dict: auc, mrr, ndcg@K (ImpressionEvaluator) and `impressions`
            (the number with a click, averaged for mrr and ndcg).
        """
        p = self.parts[part]
        scores = np.einsum("nd,nd->n", user_vectors[p.flat_users], item_vectors[p.items])
        if score_offset is not None:
            scores = scores + score_offset[p.items]
        return self.evaluate_scores(part, scores, ks)

    def evaluate_scores(self, part, scores, ks, impressions=None):
        """MIND's per-impression metrics of any scores: `scores` holds one per
        candidate of the part, in `lists(part)` order (padding left out);
        `impressions`: the indices of those to measure (None: all)."""
        p = self.parts[part]
        rows = range(p.size) if impressions is None else impressions
        evaluator = ImpressionEvaluator()
        pairs = ((scores[p.offsets[i]:p.offsets[i + 1]], p.labels[p.offsets[i]:p.offsets[i + 1]]) for i in rows)
        metrics = evaluator.evaluate(pairs, ks=ks)
        return dict(metrics, impressions=evaluator.last_num_impressions)
