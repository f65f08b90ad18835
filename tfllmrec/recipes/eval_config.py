"""`EvalConfig`: what a recipe measures."""

import dataclasses

from tfllmrec.evaluation._checks import check_ks

BASELINES = ("popularity", "id_two_tower", "nrms", "ctr", "sasrec_id", "sasrec_hybrid", "sasrec_text")
# Sequential retrieval models (the `sequence:` section), retrieval recipes only.
SEQUENTIAL_BASELINES = ("sasrec_id", "sasrec_hybrid", "sasrec_text")
# Baselines that need impressions (data.split=impressions).
IMPRESSION_BASELINES = ("nrms", "ctr")


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Evaluation settings of a recipe.

    Args:
        ks: tuple of int. Cut-offs for Recall/NDCG/Hit/MRR/Precision@K.
        monitor: str. Validation metric that picks the best epoch:
            METRIC@K (recall, ndcg, hit, mrr, precision), or "auc"/"mrr"
            for impression-based (news) recipes.
        baselines: tuple of str. Baselines measured in the same run:
            "popularity", "id_two_tower", and for news "nrms" (an
            NRMS-style user encoder over frozen text vectors) and "ctr"
            (each item's smoothed click-through rate alone: the prior of
            `model.ctr_prior_weight` without the model); for retrieval
            recipes the sequential models of the `sequence:` section:
            "sasrec_id" (SASRec, item ids), "sasrec_hybrid" (ids and text)
            and "sasrec_text" (text only, ID-free).

    Example:
    >>> EvalConfig().monitor
    'ndcg@10'
    """

    ks: tuple = (5, 10, 20)
    monitor: str = "ndcg@10"
    baselines: tuple = ("popularity", "id_two_tower")

    def __post_init__(self):
        try:
            check_ks(self.ks)  # the evaluators' own rule
        except ValueError as error:
            raise ValueError(f"{error} Fix: e.g. `--set eval.ks=[5, 10, 20]`, or `ks: [5, 10, 20]` "
                             "in a YAML recipe.") from None
        metric, _, k = self.monitor.partition("@")
        if self.monitor not in ("auc", "mrr"):
            if metric not in ("recall", "ndcg", "hit", "mrr", "precision") or not k.isdigit():
                raise ValueError(f"monitor={self.monitor!r}: use METRIC@K, e.g. 'ndcg@10', or auc.")
            if int(k) not in self.ks:
                raise ValueError(f"monitor={self.monitor!r}: K={k} is not in ks={list(self.ks)}.")
        unknown = set(self.baselines) - set(BASELINES)
        if unknown:
            raise ValueError(f"unknown baselines {sorted(unknown)}; use {', '.join(BASELINES)}.")
