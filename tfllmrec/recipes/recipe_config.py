"""`RecipeConfig`: everything one recipe run needs, as one frozen tree."""

import dataclasses

from tfllmrec.recipes.data_config import DataConfig
from tfllmrec.recipes.eval_config import IMPRESSION_BASELINES, SEQUENTIAL_BASELINES, EvalConfig
from tfllmrec.recipes.export_config import ExportConfig
from tfllmrec.recipes.model_config import ModelConfig
from tfllmrec.recipes.ranking_config import RankingConfig
from tfllmrec.recipes.search_config import SearchConfig
from tfllmrec.recipes.sequence_config import SequenceConfig
from tfllmrec.recipes.train_config import TrainConfig


def _id_only():
    return ModelConfig(use_text=False, id_dropout=0.0, history_pooling="none")


@dataclasses.dataclass(frozen=True)
class RecipeConfig:
    """A recipe: data, model, schedule, evaluation, and the ID-only baseline.

    The ID-only two-tower baseline has its own model and schedule so it is
    tuned as fairly as ours (its own temperature and learning rate, the same
    epoch budget).

    Args:
        name: str. Recipe name.
        description: str. One line for `tfllmrec list`.
        data: DataConfig.
        model: ModelConfig.
        train: TrainConfig.
        eval: EvalConfig.
        baseline_model: ModelConfig. The ID-only baseline's model.
        baseline_train: TrainConfig. The ID-only baseline's schedule.
        export: ExportConfig. What the SavedModel serves.
        ranking: RankingConfig. The ranking stage (rating prediction), off
            unless `ranking.enabled`.
        search: SearchConfig. How a free-text query ranks the items.
        sequence: SequenceConfig. The sequential models ("sasrec_*" in
            `eval.baselines`).

    Example:
    >>> from tfllmrec.recipes import get_recipe, with_overrides
    >>> with_overrides(get_recipe("video"), ["data.split_seed=7"]).data.split_seed
    7
    >>> get_recipe("news").task
    'impressions'
    """

    name: str = "custom"
    description: str = ""
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    baseline_model: ModelConfig = dataclasses.field(default_factory=_id_only)
    baseline_train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)
    ranking: RankingConfig = dataclasses.field(default_factory=RankingConfig)
    search: SearchConfig = dataclasses.field(default_factory=SearchConfig)
    sequence: SequenceConfig = dataclasses.field(default_factory=SequenceConfig)

    def _check_second_retrieval(self):
        second = self.ranking.second_retrieval
        if not (self.ranking.enabled and second):
            return
        if self.task == "impressions":
            raise ValueError(f"ranking.second_retrieval={second!r} is for the retrieval task's reranker; the news "
                             "reranker reads ours alone. Fix: `--set ranking.second_retrieval=\"\"`.")
        if second not in self.eval.baselines:
            raise ValueError(f"ranking.second_retrieval={second!r} reads the score of a model the run trains, and "
                             f"eval.baselines has no {second!r}. Fix: add it to eval.baselines, or "
                             "`--set ranking.second_retrieval=\"\"`.")

    def _check_news_sequential(self):
        """What the news task's sequential models (trained on impressions, frozen text) do not do yet."""
        sequential = sorted(set(self.eval.baselines) & set(SEQUENTIAL_BASELINES))
        unsupported = [(sequential and self.sequence.trainable != "none", "sequence.trainable",
                        "sequence.trainable=none"),
                       (sequential and self.sequence.period_days, "sequence.period_days", "sequence.period_days=0"),
                       (self.export.history_model, "export.history_model", 'export.history_model=""')]
        for used, key, fix in unsupported:
            if used:
                raise ValueError(f"{key} with data.split=impressions: the news task's sequential models "
                                 f"{sequential} do not support it yet. Fix: `--set {fix}`.")

    @property
    def task(self):
        """The runner's task plug-in (`tfllmrec.tasks`): "impressions" for news
        (`data.split: impressions`), else "retrieval". Chosen here, once."""
        return "impressions" if self.data.split == "impressions" else "retrieval"

    def __post_init__(self):
        models = (self.model, self.baseline_model)
        self._check_second_retrieval()
        if self.task == "impressions":
            if any(m.period_days for m in models):
                raise ValueError("model.period_days and baseline_model.period_days must be 0 with "
                                 "data.split=impressions: the news task has no time periods yet.")
            if any(m.hybrid and (m.cold_neighbors or not m.fuse_text) for m in models):
                raise ValueError("model.fuse_text=false and model.cold_neighbors are not supported with "
                                 "data.split=impressions yet (the news task trains no text loss): use "
                                 "model.fuse_text=true and model.cold_neighbors=0.")
            self._check_news_sequential()
            if self.ranking.enabled and self.ranking.objective != "rerank":
                raise ValueError(f"ranking.objective={self.ranking.objective!r} needs ratings, and "
                                 "data.split=impressions has clicks: its ranking stage re-scores each "
                                 "impression's candidates. Fix: `--set ranking.objective=rerank --set "
                                 "ranking.baselines=[]`, or ranking.enabled=false.")
            return
        sequential = sorted(set(self.eval.baselines) & set(SEQUENTIAL_BASELINES))
        if sequential and self.data.split not in ("leave_one_out", "predefined"):
            raise ValueError(f"eval.baselines {sequential} read each user's items in time order, and "
                             f"data.split={self.data.split!r} mixes the order (its validation and test items are "
                             "not the newest). Fix: `--set data.split=leave_one_out`, or leave them out.")
        history = self.export.history_model
        if history and history not in self.eval.baselines:
            raise ValueError(f"export.history_model={history!r} serves a sequential model the run trains, and "
                             f"eval.baselines has no {history!r}. Fix: add it to eval.baselines, or "
                             "`--set export.history_model=\"\"`.")
        if any(m.ctr_prior_weight for m in models):
            raise ValueError("model.ctr_prior_weight needs impressions (data.split=impressions): "
                             "a click-through rate counts clicks among the items shown. Set it to 0.")
        needs_impressions = sorted(set(self.eval.baselines) & set(IMPRESSION_BASELINES))
        if needs_impressions:
            raise ValueError(f"eval.baselines {needs_impressions} need impressions (data.split="
                             "impressions); leave them out of eval.baselines.")
