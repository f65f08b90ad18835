"""`Phase`: one model a recipe run trains or measures, declared as data."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Phase:
    """One step of a run: a model (ours or a baseline) on one split.

    A task lists its phases (`Task.phases`); the runner runs each once and
    keeps its result in the run folder's `progress.json` under `name`, so a
    resumed run skips the finished ones.

    Args:
        name: str. The key in `progress.json` (stable: old run folders resume).
        title: str. What a person reads: `[2/6] id_two_tower: ID-only baseline`.
        kind: str. What the task does: "two_tower" (trains a
            `TwoTowerRetrieval`), "nrms", "rating" (a `TextRanking`), "rerank"
            (a `CandidateReranker`),
            "popularity", "ctr" or "surprise" (score only).
        model: str. The config section of the model: "model" (ours) or
            "baseline_model".
        train: str. The config section of its schedule: "train" or
            "baseline_train".
        workdir: str. Its checkpoints and logs, under the run's `checkpoints/`.
        cold: bool. On the cold-start split (items held out of training).
        revision: int. Raised when the phase's result changes meaning (what
            it trains on or is measured on), so that a run folder started
            by an earlier tfllmrec measures it again rather than resuming.
            A phase that reads another's model (a reranker reads ours')
            must be raised with it.

    Example:
    >>> Phase("id_two_tower", "ID-only baseline", "two_tower", model="baseline_model").trains
    True
    """

    name: str
    title: str
    kind: str
    model: str = "model"
    train: str = "train"
    workdir: str = ""
    cold: bool = False
    revision: int = 1

    @property
    def trains(self):
        """Whether the phase trains a model (the others only score)."""
        return self.kind in ("two_tower", "nrms", "rating", "rerank")
