"""`EvalConfig`: what a recipe measures."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Evaluation settings of a recipe.

    Args:
        ks: tuple of int. Cut-offs for Recall/NDCG/Hit/MRR/Precision@K.
        monitor: str. Validation metric that picks the best epoch.
        baselines: tuple of str. Baselines measured in the same run:
            "popularity", "id_two_tower".

    Example:
    >>> EvalConfig().monitor
    'ndcg@10'
    """

    ks: tuple = (5, 10, 20)
    monitor: str = "ndcg@10"
    baselines: tuple = ("popularity", "id_two_tower")

    def __post_init__(self):
        metric, _, k = self.monitor.partition("@")
        if metric not in ("recall", "ndcg", "hit", "mrr", "precision") or not k.isdigit():
            raise ValueError(f"monitor={self.monitor!r}: use METRIC@K, e.g. 'ndcg@10'.")
        if int(k) not in self.ks:
            raise ValueError(f"monitor={self.monitor!r}: K={k} is not in ks={list(self.ks)}.")
        unknown = set(self.baselines) - {"popularity", "id_two_tower"}
        if unknown:
            raise ValueError(f"unknown baselines {sorted(unknown)}; use popularity, id_two_tower.")
