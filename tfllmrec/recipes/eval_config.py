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
        unknown = set(self.baselines) - {"popularity", "id_two_tower"}
        if unknown:
            raise ValueError(f"unknown baselines {sorted(unknown)}; use popularity, id_two_tower.")
