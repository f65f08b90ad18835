"""`RankingConfig`: the ranking stage a recipe trains beside its retrieval model."""

import dataclasses

from tfllmrec.ranges import Range, check_fields
from tfllmrec.recipes.train_config import TrainConfig

RANKING_BASELINES = ("svd", "svdpp")
OBJECTIVES = ("rating", "rerank")
# Baseline phases whose model a reranker can read a second score from.
SECOND_RETRIEVALS = ("id_two_tower",)
RANGES = {
    "candidates": Range(int, 2, example=100),
    "recent_items": Range(int, 1, example=5),
    "pair_window": Range(int, 0, example=3, meaning="0: no co-occurrence features"),
    "cross_layers": Range(int, 0, example=1, meaning="0: no DCN cross layer"),
    "neighbors": Range(int, 0, example=50, meaning="0: no user-kNN votes"),
    "ease_l2": Range(float, 0, example=100.0, meaning="0: no EASE feature"),
    "folds": Range(int, 1, example=5, meaning="1: one 20% holdout and one scorer"),
    "embedding_dim": Range(int, 1, example=64),
    "text_hidden_dim": Range(int, 0, example=0, meaning="0: a linear projection"),
    "max_history": Range(int, 0, example=256, meaning="0: no implicit-feedback term"),
    "l2": Range(float, 0, example=1e-4, meaning="0: no penalty"),
    "held_out_users": Range(float, 0, 1, high_open=True, example=0.1, meaning="0: no new-user protocol"),
}


def _schedule():
    return TrainConfig(epochs=40, batch_size=256, learning_rate=1e-3, patience=5)


@dataclasses.dataclass(frozen=True)
class RankingConfig:
    """The ranking stage a retrieval recipe trains after its retrieval model.

    With `enabled` and `objective="rating"`, a recipe whose interactions
    carry ratings (their `weight`) also trains a rating model
    (`tfllmrec.models.TextRanking`) on the same split, picks its best
    epoch on validation RMSE, and reports test RMSE and MAE beside the
    `baselines`, measured in the same run on the same split.

    With `objective="rerank"`, a `tfllmrec.models.CandidateReranker`
    re-orders the retrieval model's top `candidates`, trained listwise on
    the validation users' shortlists (`tfllmrec.tasks.rerank`); the run
    reports the test metrics of the two stages beside the retrieval stage
    alone. It reads `use_text`, `recent_items`, `pair_window`, `pair_cosine`, `neighbors`,
    `ease_l2`, `second_retrieval`, `cross_layers`, `hidden_units`, `folds` and `train`.

    Args:
        enabled: bool. Train and evaluate the ranking stage.
        objective: str. "rating" or "rerank".
        candidates: int. Rerank: the shortlist the retrieval stage hands over.
        recent_items: int. Rerank: a user's latest items the features compare with.
        pair_window: int. Rerank: items at most this many places apart in a
            training history count as bought together; 0: no such features.
        pair_cosine: bool. Rerank: with `pair_window`, the co-occurrence
            counts also divided by the root of both items' popularity
            (item-kNN's cosine), a feature of its own.
        neighbors: int. Rerank: each user's most similar users (cosine of
            their histories) whose latest `recent_items` vote for a
            candidate (user-kNN); 0: no such feature.
        ease_l2: float. Rerank: EASE's L2 weight (its lambda): an
            item-to-item regression (Steck, WWW 2019) fitted to the
            histories the reranker follows (training ones while it learns,
            training and validation ones at test, every interaction of the
            run in `TrainedRun` and the export) scores each candidate from
            the user's latest `recent_items`; 0: no such feature.
        second_retrieval: str. Rerank: "id_two_tower": the score of the
            run's ID-only baseline (`eval.baselines` must train it) is a
            feature, so the stages blend two retrieval models; "": none.
        cross_layers: int. Rerank: DCN cross layers (`tfrs.layers.dcn.Cross`)
            over the features before the linear term and the MLP; 0: none.
        folds: int. Rerank: 1: the reranker learns from 80% of the
            validation lists, and its epoch is picked on the other 20%.
            K > 1: the lists fall into K folds and the reranker has K
            scorers (heads); head k learns from every fold but k, the epoch
            is picked on every list scored by the head that never saw it,
            and the heads' mean scores test and serving (bagging).
        embedding_dim: int. Rating: factor size.
        use_text: bool. The items' frozen text embeddings (the recipe's
            `model.encoder`) enter the item side.
        user_profile: bool. Rating only (a reranker reads none): each
            user's profile text (the data's users file: MovieLens' age,
            gender and occupation), embedded by the same encoder, enters the
            user side, so a new user is scored from their profile.
        held_out_users: float. With `user_profile`, the new-user protocol:
            this share of the users (drawn by `data.split_seed`) is left out
            of a second rating model's training entirely, and their test
            ratings are predicted from their profile alone and from nothing
            (`test_new_users`); 0: none.
        text_hidden_dim: int. Hidden units of the text MLP; 0: linear.
        max_history: int. Rated items per user in the implicit-feedback
            term (SVD++'s); 0: none.
        hidden_units: tuple of int. An MLP added to the dot product.
        l2: float. L2 penalty on every embedding and kernel.
        baselines: tuple of str. "svd" and "svdpp": scikit-surprise's SVD
            and SVD++ with its default settings (the `baselines` extra:
            `pip install 'tfllmrec[baselines]'`).
        train: TrainConfig. Its schedule.

    Example:
    >>> RankingConfig().enabled, RankingConfig().train.learning_rate
    (False, 0.001)
    """

    enabled: bool = False
    objective: str = "rating"
    candidates: int = 100
    recent_items: int = 5
    pair_window: int = 3
    pair_cosine: bool = False
    neighbors: int = 0
    ease_l2: float = 0.0
    second_retrieval: str = ""
    cross_layers: int = 0
    folds: int = 1
    embedding_dim: int = 64
    use_text: bool = True
    user_profile: bool = False
    held_out_users: float = 0.1
    text_hidden_dim: int = 0
    max_history: int = 0
    hidden_units: tuple = ()
    l2: float = 1e-4
    baselines: tuple = RANKING_BASELINES
    train: TrainConfig = dataclasses.field(default_factory=_schedule)

    def __post_init__(self):
        check_fields(self, RANGES)
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective={self.objective!r}: use one of {', '.join(OBJECTIVES)}.")
        if self.objective == "rerank" and self.baselines:
            raise ValueError(f"baselines={list(self.baselines)} are rating baselines; a reranker is measured "
                             "against the retrieval stage alone. Fix: `--set ranking.baselines=[]`.")
        if self.second_retrieval and self.second_retrieval not in SECOND_RETRIEVALS:
            raise ValueError(f"second_retrieval={self.second_retrieval!r}: use one of {', '.join(SECOND_RETRIEVALS)}, "
                             "or \"\" (none).")
        if self.objective != "rerank" and (self.second_retrieval or self.neighbors or self.pair_cosine
                                           or self.folds > 1 or self.ease_l2):
            raise ValueError("pair_cosine, neighbors, ease_l2, second_retrieval and folds are the reranker's: set "
                             "them with `ranking.objective=rerank`, or set them to false, 0, 0, \"\" and 1.")
        unknown = sorted(set(self.baselines) - set(RANKING_BASELINES))
        if unknown:
            raise ValueError(f"unknown ranking baselines {unknown}; use {', '.join(RANKING_BASELINES)}.")
        if any(int(u) < 1 for u in self.hidden_units):
            raise ValueError(f"hidden_units={list(self.hidden_units)}: every layer needs at least 1 unit.")

    def model_options(self):
        """The `TextRanking` arguments (all but the sizes and the text width)."""
        return dict(embedding_dim=self.embedding_dim, text_hidden_dim=self.text_hidden_dim,
                    max_history=self.max_history, hidden_units=tuple(self.hidden_units), l2=self.l2)
