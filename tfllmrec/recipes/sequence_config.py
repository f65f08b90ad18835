"""`SequenceConfig`: the sequential (SASRec-style) models a retrieval recipe measures."""

import dataclasses

from tfllmrec.ranges import Range, check_fields
from tfllmrec.trainable_mode import parse_trainable
from tfllmrec.recipes.train_config import TrainConfig

RANGES = {
    "max_length": Range(int, 1, example=50),
    "num_layers": Range(int, 1, example=2),
    "num_heads": Range(int, 1, example=1),
    "dropout": Range(float, 0, 1, high_open=True, example=0.2),
    "temperature": Range(float, 0, low_open=True, example=0.1),
    "embedding_dim": Range(int, 1, example=64),
    "text_hidden_dim": Range(int, 0, example=256, meaning="0: a linear projection"),
    "id_dropout": Range(float, 0, 1, high_open=True, example=0.3, meaning="0: off"),
    "fine_tune_items": Range(int, 0, example=64, meaning="0: every item of the step"),
    "period_days": Range(int, 0, example=7, meaning="0: no time periods"),
    "held_out_users": Range(float, 0, 1, high_open=True, example=0.1, meaning="0: no user cold-start protocol"),
}


def _schedule():
    return TrainConfig(epochs=100, batch_size=128, learning_rate=1e-3, patience=10)


@dataclasses.dataclass(frozen=True)
class SequenceConfig:
    """The `SequentialRetrieval` models that `eval.baselines` names, trained in
    the same run on the same split as ours:

    - "sasrec_id": item ids only (SASRec);
    - "sasrec_hybrid": item ids and the items' text (the recipe's encoder);
    - "sasrec_text": the items' text only, no id of any kind (ID-free).

    Each reads a user's latest `max_length` training items, oldest first,
    and is trained with the next item as the target at every position
    (full softmax); its best epoch is picked on `eval.monitor`. In the news
    recipe (`data.split: impressions`) each reads the user's click history
    and learns from the training impressions as ours does (each click
    against its impression's non-clicks), its scores plus ours'
    click-through-rate prior; `held_out_users` plays no part there.

    Args:
        max_length: int. Latest items a query reads.
        num_layers: int. Transformer blocks (keras-hub `TransformerEncoder`).
        num_heads: int. Attention heads; must divide `embedding_dim`.
        dropout: float. Dropout in the query tower.
        temperature: float. Softmax temperature of the cosine scores.
        embedding_dim: int. Item vector and transformer width.
        text_hidden_dim: int. Hidden units of the item text MLP; 0: linear.
        id_dropout: float. Probability of zeroing an item's id vector in a
            training step ("sasrec_hybrid"), so that its text carries it.
        trainable: str. "none", "top:N" or "all": the items' text encoder
            (the recipe's `model.encoder`) fine-tunes inside the text
            models ("sasrec_hybrid", "sasrec_text"), with the `train`
            section's `encoder_*` settings, as `model.trainable` does in ours.
        fine_tune_items: int. Items a step re-embeds with gradients.
        use_user_ids: bool. A user-id vector at every position of the
            models with item ids ("sasrec_id", "sasrec_hybrid"); the
            ID-free one never has one.
        period_days: int. The request's time: a learned vector per period
            of this many days, added to each query (training: the period of
            the item it answers with; evaluation: of the validation or test
            item, as `model.period_days` does; serving: the latest trained
            period). Needs timestamps; 0: off.
        held_out_users: float. Share of the users (drawn by
            `data.split_seed`) left out of their training: the user
            cold-start protocol serves each from the first half of their
            interactions and measures Recall/NDCG@K on the rest, beside the
            popularity fallback an ID model serves a new user
            (`test_new_users`); 0: none.
        train: TrainConfig. Their schedule.

    Example:
    >>> SequenceConfig().max_length, SequenceConfig().train.batch_size
    (50, 128)
    """

    max_length: int = 50
    num_layers: int = 2
    num_heads: int = 1
    dropout: float = 0.2
    temperature: float = 0.1
    embedding_dim: int = 64
    text_hidden_dim: int = 256
    id_dropout: float = 0.0
    trainable: str = "none"
    fine_tune_items: int = 64
    use_user_ids: bool = False
    period_days: int = 0
    held_out_users: float = 0.1
    train: TrainConfig = dataclasses.field(default_factory=_schedule)

    def __post_init__(self):
        check_fields(self, RANGES)
        parse_trainable(self.trainable)
        if self.embedding_dim % self.num_heads:
            raise ValueError(f"num_heads={self.num_heads} does not divide embedding_dim={self.embedding_dim}: "
                             "each head reads an equal slice. Fix: e.g. `--set sequence.num_heads=1`.")

    def model_options(self):
        """The `SequentialRetrieval` arguments it sets."""
        return dict({name: getattr(self, name) for name in RANGES if name != "held_out_users"},
                    trainable=self.trainable, use_user_ids=self.use_user_ids)
