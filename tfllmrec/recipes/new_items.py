"""The rules items added to a trained run obey (`TrainedRun.add_items`)."""

import collections

from tfllmrec.errors import ConfigError


def check_new_items(item_ids, texts, known, use_text):
    """Raises ConfigError, with the fix, unless `item_ids` and `texts` can be added
    to a run whose catalogue is `known` (`TrainedRun.add_items`)."""
    if not use_text:
        raise ConfigError("This run's model has no text path (model.use_text=false), so it cannot "
                          "place items it was not trained on. Fix: retrain with model.use_text=true.")
    if len(item_ids) != len(texts) or not item_ids:
        raise ConfigError(f"add_items needs one text per id and at least one item; got "
                          f"{len(item_ids)} ids and {len(texts)} texts.")
    repeated = sorted(i for i, n in collections.Counter(item_ids).items() if n > 1)
    clash = sorted(set(item_ids) & set(known.tolist()))
    if repeated or clash:
        raise ConfigError(
            f"New item ids must be new and distinct: {(repeated or clash)[:5]} "
            f"{'repeat' if repeated else 'are already in the catalogue'}. Fix: give each new "
            "item an id the run does not know (known items are ranked already).")
    empty = [i for i, t in zip(item_ids, texts) if not t.strip()]
    if empty:
        raise ConfigError(f"New items {empty[:5]} have empty text: the text is all that places "
                          "a new item. Fix: give each a title or description.")
