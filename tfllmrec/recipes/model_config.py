"""`ModelConfig`: the two-tower model a recipe trains."""

import dataclasses

from tfllmrec.model_rules import check_two_tower, effective_options


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The options of a recipe's `TwoTowerRetrieval`, by the same names.

    Each field is the `tfllmrec.models.TwoTowerRetrieval` argument of that
    name, with its default, and is documented there; a recipe builds its
    model as `TwoTowerRetrieval(num_users=..., num_items=..., text_dim=...,
    num_periods=..., **dataclasses.asdict(model_config))`. The data gives
    the sizes. The rules the options obey are checked as the config is read
    (`tfllmrec.model_rules`), with the model's own messages, so a bad value
    fails before any data is loaded. `encoder` is a `TextEncoder` preset or
    folder; `sequence_length` its tokens per item text.

    Example:
    >>> ModelConfig(temperature=0.1).loss
    'full_softmax'
    >>> ModelConfig(use_text=False, fuse_text=False).hybrid   # text options mean nothing without text
    False
    """

    encoder: str = "all-minilm-l6-v2"
    sequence_length: int = 64
    trainable: str = "none"
    use_text: bool = True
    use_user_ids: bool = True
    use_item_ids: bool = True
    embedding_dim: int = 64
    text_hidden_dim: int = 256
    id_dropout: float = 0.3
    history_pooling: str = "none"
    max_history: int = 50
    temperature: float = 0.2
    loss: str = "full_softmax"
    logq_correction: bool = True
    text_loss_weight: float = 0.0
    text_dropout: float = 0.0
    period_days: int = 0
    ctr_prior_weight: float = 0.0
    ctr_prior_strength: float = 40.0
    fuse_text: bool = True
    cold_neighbors: int = 0
    cold_neighbor_temperature: float = 0.1
    fine_tune_items: int = 64

    @property
    def hybrid(self):
        """Both item ids and text: where `fuse_text` and `cold_neighbors` apply."""
        return effective_options(dataclasses.asdict(self))["hybrid"]

    def __post_init__(self):
        check_two_tower(dataclasses.asdict(self))
