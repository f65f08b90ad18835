"""`ModelConfig`: the two-tower model a recipe trains."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture of a recipe's `TwoTowerRetrieval`.

    Args:
        encoder: str. Text encoder preset or folder (see `TextEncoder`).
        sequence_length: int. Tokens per item text.
        trainable: str. BERT fine-tuning: "none" (embeddings computed once
            and cached), "top:N" or "all".
        use_text: bool. Item text in the candidate tower.
        use_user_ids: bool. User-id embedding in the query tower.
        use_item_ids: bool. Item-id embedding in the candidate tower.
        embedding_dim: int. Size of the shared space.
        text_hidden_dim: int. Hidden units of the text MLP; 0: a linear
            projection.
        text_dropout: float. Dropout on the text MLP's input and hidden
            units in training.
        id_dropout: float. Item-id dropout in training (cold-start path).
        history_pooling: str. "none", "ids", "text", "ids+text" or "shared".
        max_history: int. History items per user.
        temperature: float. Softmax temperature.
        loss: str. "full_softmax" or "in_batch".
        logq_correction: bool. logQ correction of in-batch negatives.
        text_loss_weight: float. Weight of the auxiliary loss on text-only
            item vectors (the cold-start path); 0 turns it off.
        period_days: int. Length in days of the time periods whose learned
            vectors the query tower adds (what sold when). Training uses
            each interaction's period; evaluation asks each user at the
            period of their latest interaction in the evaluated part (the
            request's time; a leave-one-out split has one); serving asks at
            the latest trained period (the present), so offline numbers
            assume the request time is known. Needs timestamps; 0: off.
        ctr_prior_weight: float. Impression recipes only: adds this weight
            times the log of each item's smoothed click-through rate in the
            training impressions to its logit at scoring (a popularity prior,
            as PP-Rec adds news popularity to personal interest). The rate is
            (clicks + s * r) / (shown + s), with s = `ctr_prior_strength`
            and r the overall click rate, so an item shown rarely (or never:
            an item added after training) gets about r. Training leaves it
            out: the prior counts the very clicks being learned. 0: off.
        ctr_prior_strength: float. Pseudo-impressions (s above) that pull a
            rarely shown item's rate towards the overall rate.
        The text options (`text_*`, `fuse_text`, `cold_neighbors*`) are
        ignored without text (`use_text: false`), so one override turns a
        recipe into its ID-only version; `fuse_text` and `cold_neighbors*`
        are also ignored without item ids (every item is then its text).
        fuse_text: bool. Known items' vectors add the text MLP to their
            ids. False: ids alone (as the ID-only model), and text only
            places items without a trained id and free-text queries; then
            set `id_dropout: 0` and `text_loss_weight` > 0 (that loss trains
            the text MLP without moving the users).
        cold_neighbors: int. Place items without a trained id (held-out
            cold-start items, items added after training) at the
            similarity-weighted mean vector of their k nearest trained items
            in the encoder's text space, instead of by the text MLP. 0: off.
        cold_neighbor_temperature: float. Softmax temperature over those
            cosine similarities.

    Example:
    >>> ModelConfig(temperature=0.1).loss
    'full_softmax'
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

    @property
    def hybrid(self):
        """Both item ids and text: where `fuse_text` and `cold_neighbors` apply."""
        return self.use_text and self.use_item_ids

    def __post_init__(self):
        if self.trainable != "none":
            raise ValueError(
                f"trainable={self.trainable!r}: recipes currently train on cached "
                "frozen text embeddings; use 'none' (fine-tuning BERT inside a recipe "
                "is not supported yet; TextEncoder itself supports top:N/all)."
            )
        if not 0.0 <= self.id_dropout < 1.0 or not 0.0 <= self.text_dropout < 1.0:
            raise ValueError("id_dropout and text_dropout must be in [0, 1).")
        if self.text_hidden_dim < 0:
            raise ValueError("text_hidden_dim must be >= 0 (0: a linear text projection).")
        if self.loss not in ("full_softmax", "in_batch"):
            raise ValueError(f"loss={self.loss!r}: use 'full_softmax' or 'in_batch'.")
        pooling = ("none", "ids", "text", "ids+text", "shared")
        if self.history_pooling not in pooling:
            raise ValueError(f"history_pooling={self.history_pooling!r}: use one of {pooling}.")
        if "text" in self.history_pooling and not self.use_text:
            raise ValueError(f"history_pooling={self.history_pooling!r} needs use_text=true.")
        if not self.use_user_ids and self.history_pooling == "none":
            raise ValueError("use_user_ids=false needs a history_pooling other than 'none'.")
        if not self.use_item_ids and not self.use_text:
            raise ValueError("use_item_ids=false needs use_text=true.")
        if self.text_loss_weight < 0:
            raise ValueError("text_loss_weight must be >= 0 (0: off).")
        if self.temperature <= 0:
            raise ValueError("temperature must be positive.")
        if self.period_days < 0:
            raise ValueError("period_days must be >= 0 (0: no time periods).")
        if self.ctr_prior_weight < 0 or self.ctr_prior_strength <= 0:
            raise ValueError("ctr_prior_weight must be >= 0 (0: off) and ctr_prior_strength > 0.")
        if self.cold_neighbors < 0 or self.cold_neighbor_temperature <= 0:
            raise ValueError("cold_neighbors must be >= 0 (0: off) and cold_neighbor_temperature > 0.")
        if self.hybrid and not self.fuse_text:
            if self.id_dropout:
                raise ValueError("fuse_text=false keeps text out of known items' vectors, so there is "
                                 "nothing to fall back on when an id is dropped: set id_dropout: 0.")
            if not self.text_loss_weight:
                raise ValueError("fuse_text=false trains the text MLP only through the text loss (it "
                                 "places free-text queries, and new items without cold_neighbors): "
                                 "set text_loss_weight > 0, e.g. 1.")
        if self.embedding_dim < 1 or self.max_history < 0 or self.sequence_length < 2:
            raise ValueError("embedding_dim and sequence_length must be positive, max_history >= 0.")
