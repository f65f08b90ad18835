"""The rules a two-tower model's options obey, each written once.

`TwoTowerRetrieval`, `ItemTower` and `UserTower` check their arguments here,
and so does `ModelConfig` as a recipe is read (its fields are the model's
arguments), so a bad `--set model.x=...` fails before any data is loaded,
with the same message the model would give. No TensorFlow import: reading a
config must stay fast.
"""

from tfllmrec.ranges import Range
from tfllmrec.trainable_mode import parse_trainable

LOSSES = ("full_softmax", "in_batch")
HISTORY_POOLINGS = ("none", "ids", "text", "ids+text", "shared")


_DROPOUT = Range(float, 0, 1, high_open=True, example=0.1)
# The range of each numeric option, by its name (ModelConfig's field, the
# model's and the towers' argument). `sequence_length` is the text
# encoder's tokens per text; the backbone's own maximum is checked there.
RANGES = {
    "sequence_length": Range(int, 2, example=64, meaning="tokens per text, with [CLS] and [SEP]"),
    "embedding_dim": Range(int, 1, example=64),
    "text_hidden_dim": Range(int, 0, example=256, meaning="0: a linear text projection"),
    "id_dropout": _DROPOUT,
    "text_dropout": _DROPOUT,
    "max_history": Range(int, 0, example=50, meaning="0: no history"),
    "temperature": Range(float, 0, low_open=True, example=0.2),
    "text_loss_weight": Range(float, 0, example=1.0, meaning="0: off"),
    "period_days": Range(int, 0, example=7, meaning="0: no time periods"),
    "ctr_prior_weight": Range(float, 0, example=1.0, meaning="0: off"),
    "ctr_prior_strength": Range(float, 0, low_open=True, example=40.0),
    "cold_neighbors": Range(int, 0, example=10, meaning="0: off"),
    "cold_neighbor_temperature": Range(float, 0, low_open=True, example=0.1),
    "fine_tune_items": Range(int, 0, example=64, meaning="0: every distinct item of the batch"),
}


def check_ranges(**values):
    """Raises RangeError (a ValueError) naming the first option outside its range in `RANGES`."""
    for name, value in values.items():
        RANGES[name].check(value, name)


# A config is checked before the data gives the text embeddings' size.
UNKNOWN = -1


def effective_options(options, text_dim=UNKNOWN):
    """What a model with `options` (ModelConfig's fields) really uses.

    Text options mean nothing without text, so `use_text=false` turns any
    recipe into its ID-only version: the text loss is off, known items are
    their ids, and no item is placed among text neighbours.

    Args:
        options: dict of ModelConfig fields.
        text_dim: int or None. The text embeddings' size (None: no text);
            `UNKNOWN` at config time, when `use_text` alone says whether
            there will be text.

    Returns:
        dict with has_text, hybrid, fuse_text, cold_neighbors,
        text_loss_weight, max_history and item_bias.
    """
    has_text = bool(options["use_text"]) and (text_dim == UNKNOWN or bool(text_dim))
    hybrid = has_text and bool(options["use_item_ids"])
    pooled = options["history_pooling"] != "none"
    return {
        "has_text": has_text,
        "hybrid": hybrid,
        "fuse_text": bool(options["fuse_text"]) or not hybrid,
        "cold_neighbors": int(options["cold_neighbors"]) if hybrid else 0,
        "text_loss_weight": float(options["text_loss_weight"]) if has_text else 0.0,
        "max_history": int(options["max_history"]) if pooled else 0,
        "item_bias": float(options["ctr_prior_weight"]) > 0,
    }


def check_two_tower(options, text_dim=UNKNOWN):
    """Raises ValueError, naming the option and the fix, unless `options`
    (ModelConfig's fields) describe a model `TwoTowerRetrieval` can build."""
    o = options
    check_ranges(**{name: o[name] for name in RANGES if name in o})
    parse_trainable(o["trainable"])  # "none", "top:N" or "all"; N is checked when the encoder loads
    if o["loss"] not in LOSSES:
        raise ValueError(f"loss={o['loss']!r}: use 'full_softmax' or 'in_batch'.")
    if o["history_pooling"] not in HISTORY_POOLINGS:
        raise ValueError(f"history_pooling={o['history_pooling']!r}: use one of {HISTORY_POOLINGS}.")
    used = effective_options(o, text_dim)
    if "text" in o["history_pooling"] and not used["has_text"]:
        raise ValueError(f"history_pooling={o['history_pooling']!r} needs item text "
                         "(use_text=true and a text_dim).")
    check_item_tower(o["use_item_ids"], used["has_text"], o["id_dropout"], o["text_dropout"],
                     o["text_hidden_dim"], used["fuse_text"], used["cold_neighbors"],
                     o["cold_neighbor_temperature"])
    if used["hybrid"] and not used["fuse_text"] and not used["text_loss_weight"]:
        raise ValueError("fuse_text=false trains the text MLP only through the text loss (it places "
                         "free-text queries, and new items without cold_neighbors): set "
                         "text_loss_weight > 0, e.g. 1.")
    check_user_tower(o["use_user_ids"], used["max_history"])


def check_item_tower(use_item_ids, has_text, id_dropout, text_dropout, text_hidden_dim, fuse_text,
                     cold_neighbors, cold_neighbor_temperature):
    """The `ItemTower` rules (see `check_two_tower`)."""
    if not use_item_ids and not has_text:
        raise ValueError("An item needs item ids, text, or both: use_item_ids=false needs item text "
                         "(use_text=true).")
    check_ranges(id_dropout=id_dropout, text_dropout=text_dropout, text_hidden_dim=text_hidden_dim,
                 cold_neighbors=cold_neighbors, cold_neighbor_temperature=cold_neighbor_temperature)
    if (cold_neighbors or not fuse_text) and not (use_item_ids and has_text):
        raise ValueError("fuse_text=false or cold_neighbors > 0 needs both item ids and text.")
    if not fuse_text and id_dropout:
        raise ValueError("fuse_text=false keeps text out of known items' vectors, so there is "
                         "nothing to fall back on when an id is dropped: id_dropout must be 0 "
                         "(set id_dropout: 0).")


def check_user_tower(use_user_ids, max_history):
    """The `UserTower` rule: a user is their id, their history, or both."""
    check_ranges(max_history=max_history)
    if not use_user_ids and not max_history:
        raise ValueError("A user needs user ids, a history, or both: use_user_ids=false needs a "
                         "history_pooling other than 'none' and max_history > 0.")
