"""`SearchConfig`: how a free-text query ranks the items."""

import dataclasses

from tfllmrec.ranges import Range, check_fields

_WEIGHT = Range(float, 0, example=0.5, meaning="0: that part is left out")
RANGES = {"cosine_weight": _WEIGHT, "collaborative_weight": _WEIGHT, "popularity_weight": _WEIGHT}


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """The blend behind `tfllmrec recommend --text`, `TrainedRun.recommend_for_text`
    and the export's `recommend_by_text` (one definition:
    `tfllmrec.towers.text_placement.search_scores`).

    Each part is a score per item, standardised over the catalogue for each
    query (z-score), and weighted:

    Args:
        cosine_weight: float. The text encoder's (fine-tuned, when it
            trained) cosine between the query and each item's text.
        collaborative_weight: float. The query placed by the item tower's
            text path, dot each item placed the same way (the trained search).
        popularity_weight: float. log(1 + the users who interacted with the
            item).

    With the collaborative part alone (the default), scores are its raw dot
    products. `benchmarks/text_search.py` measures the parts and the blend.

    Example:
    >>> SearchConfig(cosine_weight=0.2, collaborative_weight=0.3, popularity_weight=0.5).weights
    (0.2, 0.3, 0.5)
    """

    cosine_weight: float = 0.0
    collaborative_weight: float = 1.0
    popularity_weight: float = 0.0

    @property
    def weights(self):
        return (self.cosine_weight, self.collaborative_weight, self.popularity_weight)

    def __post_init__(self):
        check_fields(self, RANGES)
        if not any(self.weights):
            raise ValueError("search: every weight is 0, so a text query would rank nothing. Fix: e.g. "
                             "`--set search.collaborative_weight=1`.")
