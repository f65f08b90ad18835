"""`ExportConfig`: what a recipe's SavedModel serves."""

import dataclasses

from tfllmrec.ranges import K, Range, check_fields
from tfllmrec.recipes.eval_config import SEQUENTIAL_BASELINES

INDEXES = ("brute", "ivf")
PRECISIONS = ("float32", "bfloat16")
RANGES = {
    "top_k": K,
    "partitions": Range(int, 0, example=1000, meaning="0: the square root of the catalogue size"),
    "probe": Range(int, 1, example=24),
    "rank_candidates": Range(int, 1, example=100),
}


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """How `tfllmrec export` builds a recipe's SavedModel.

    Args:
        top_k: int. Items `serving_default` (and `recommend_by_text`) return
            for each request. Stock TF Serving's REST API takes no optional
            inputs, and its row format stacks each input per instance, so
            the signature every client form can call takes the user ids
            alone; `recommend_k` takes a per-request `k` (columnar and gRPC
            clients; over gRPC it defaults to this value).
        index: str. How a user's items are found: "brute" (every item
            scored) or "ivf" (an inverted-file index: k-means partitions,
            the nearest `probe` searched, then re-scored exactly; core ops
            only, for catalogues of millions; see docs/scaling.md).
        partitions: int. k-means partitions of the "ivf" index; 0: the
            square root of the catalogue size.
        probe: int. Partitions (blocks) an "ivf" search scores.
        precision: str. "bfloat16" or "float32": the index's copy of the
            item vectors that picks the shortlist (re-scored in float32).
        rank_candidates: int. With a ranking stage (`ranking.enabled`), the
            retrieved items `recommend_ranked` re-orders by the ranking model.
        history_model: str. "" or a sequential model the run trained
            ("sasrec_id", "sasrec_hybrid" or "sasrec_text" in
            `eval.baselines`): the export adds its `recommend_by_history`
            (a user is the recent item ids sent with the request).

    Example:
    >>> ExportConfig().top_k, ExportConfig().index
    (10, 'brute')
    """

    top_k: int = 10
    index: str = "brute"
    partitions: int = 0
    probe: int = 24
    precision: str = "bfloat16"
    rank_candidates: int = 100
    history_model: str = ""

    def __post_init__(self):
        check_fields(self, RANGES)
        if self.index not in INDEXES:
            raise ValueError(f"index={self.index!r}: use one of {', '.join(INDEXES)}.")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision={self.precision!r}: use one of {', '.join(PRECISIONS)}.")
        if self.history_model and self.history_model not in SEQUENTIAL_BASELINES:
            raise ValueError(f"history_model={self.history_model!r}: use \"\" (none) or one of "
                             f"{', '.join(SEQUENTIAL_BASELINES)}.")
