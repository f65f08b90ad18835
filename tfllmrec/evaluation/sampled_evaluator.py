"""`SampledEvaluator`: HR@K and NDCG@K against fixed sampled negatives."""

import numpy as np

from tfllmrec.evaluation._checks import as_index_array, as_scores, check_batch_size, check_ks


class SampledEvaluator:
    """Ranks each test user's one positive among its m sampled negatives.

    This is the leave-one-out protocol of NCF/ReChorus: a user has 1 held-out
    positive and m fixed negatives (often 99). With `s` the scores of the
    1 + m candidates, positive first, the rank follows ReChorus exactly:

        rank = number of candidates with s >= s[positive]   (1-based)

    so a negative tied with the positive counts against it (pessimistic: a
    model that scores everything equal gets rank 1 + m, not 1). Then

    - hit@K = 1 if rank <= K, else 0 (HR@K)
    - ndcg@K = 1 / log2(rank + 1) if rank <= K, else 0 (one relevant item,
      so IDCG = 1)

    both averaged over users.

    Attributes:
        last_num_users: int or None. Users in the last `evaluate` call.

    Example:
        >>> import numpy as np
        >>> table = np.array([[0.9, 0.3, 0.5, 0.1]])
        >>> ev = SampledEvaluator()
        >>> ev.evaluate(lambda u, items: table[0, items], np.array([0]),
        ...             np.array([2]), np.array([[1, 3, 0]]), ks=(1, 2))
        {'hit@1': 0.0, 'hit@2': 1.0, 'ndcg@1': 0.0, 'ndcg@2': 0.6309297535714575}
    """

    def __init__(self):
        self.last_num_users = None

    def evaluate(
        self, score_fn_pairs, users, positive_items, negative_items, ks=(5, 10), batch_size=1024
    ):
        """Scores each user's candidates and returns mean hit@K and ndcg@K.

        Args:
            score_fn_pairs: callable. `score_fn_pairs(users, items)` takes int64
                arrays of shape [n] and [n, 1 + m] (column 0 the positive) and
                returns scores of shape [n, 1 + m].
            users: np.ndarray [n] of int. The test users.
            positive_items: np.ndarray [n] of int. One held-out item per user.
            negative_items: np.ndarray [n, m] of int. The sampled negatives; none
                may equal the user's positive.
            ks: int or tuple of int. Cut-offs K, each >= 1.
            batch_size: int. Users per `score_fn_pairs` call.

        Returns:
            dict with "hit@K" for each K, then "ndcg@K" for each K.

        Raises:
            ValueError: misaligned inputs, a negative equal to the positive,
                wrong score shape, or NaN scores.
        """
        ks = check_ks(ks)
        batch_size = check_batch_size(batch_size)
        users = as_index_array(users, "users")
        positive_items = as_index_array(positive_items, "positive_items")
        negative_items = np.asarray(negative_items)
        if negative_items.ndim != 2 or negative_items.dtype.kind not in "iu":
            raise ValueError(
                f"negative_items must be an integer array [n, m], got shape "
                f"{negative_items.shape} and dtype {negative_items.dtype}. Stack each "
                "user's m negatives into one row."
            )
        n = users.size
        if n == 0:
            raise ValueError("users is empty; pass at least one test user.")
        if positive_items.size != n or negative_items.shape[0] != n:
            raise ValueError(
                f"users ({n}), positive_items ({positive_items.size}) and "
                f"negative_items ({negative_items.shape[0]} rows) must align: one "
                "positive and one row of negatives per user."
            )
        clash = negative_items == positive_items[:, None]
        if clash.any():
            row = int(np.argwhere(clash)[0][0])
            raise ValueError(
                f"User {users[row]} has its positive item {positive_items[row]} among "
                "its sampled negatives. Sample negatives from items the user did "
                "not interact with."
            )

        items = np.concatenate([positive_items[:, None], negative_items.astype(np.int64)], axis=1)
        ranks = np.empty(n, dtype=np.int64)
        for start in range(0, n, batch_size):
            part = slice(start, start + batch_size)
            scores = as_scores(
                score_fn_pairs(users[part], items[part]), items[part].shape, "score_fn_pairs"
            )
            ranks[part] = (scores >= scores[:, :1]).sum(axis=1)

        self.last_num_users = n
        result = {f"hit@{k}": float((ranks <= k).mean()) for k in ks}
        for k in ks:
            result[f"ndcg@{k}"] = float(np.where(ranks <= k, 1.0 / np.log2(ranks + 1), 0.0).mean())
        return result
