"""Is the data big enough for the protocol? Checked by `Task.prepare`, before anything trains.

Each part of a split has a job: training learns from train, validation
picks the best epoch, test gives the metrics. A part left empty, or one
where no user has an item to find (or no impression has a click to rank),
would fail only later, after training, in the evaluation. These checks fail
first, with a DataError naming the file, what the protocol needs, what the
data has, and the fix; the runner writes nothing before them.
"""

import numpy as np

from tfllmrec.data.splits import rows_needed
from tfllmrec.errors import DataError

_JOBS = {"train": "training learns from it", "valid": "validation picks the best epoch",
         "test": "test gives the metrics"}


def check_retrieval_split(data, dataset, index, cold=False):
    """Raises DataError unless every part of `index` (an IndexedSplit) has a user with an item to find.

    Args:
        data: DataConfig.
        dataset: tfllmrec.data.Dataset. Names the file and sizes the data.
        index: IndexedSplit of the main split, or of the cold-start split.
        cold: bool. `index` holds items out of training: its test ranks them only.
    """
    for part, seen in (("train", ()), ("valid", ("train",)), ("test", ("train", "valid"))):
        if part == "train":
            missing = "is empty" if not index.train_users.size else None
        else:
            missing = _without_targets(index, part, seen, cold and part == "test")
        if missing:
            raise DataError(
                f"{dataset.interactions.source}: too little data for {_protocol(data, dataset, cold)}: "
                f"the {part} part {missing} ({_JOBS[part]}); {_needs(data, dataset, part, cold)}. "
                f"The data has {_sizes(dataset)}, and the split gives train/valid/test "
                f"{index.train_users.size}/{index.valid_users.size}/{index.test_users.size}. "
                f"Fix: {_fix(data, dataset, part, cold)}.")


def _without_targets(index, part, seen, cold):
    if not getattr(index, f"{part}_users").size:
        return "is empty"
    _, positives, _ = index.targets(part, list(seen))
    if cold:
        positives = [p[np.isin(p, index.cold_items)] for p in positives]
    if any(p.size for p in positives):
        return None
    if cold:
        return "has no interaction with a held-out item that its user did not have before"
    return (f"holds only items each user has in {' or '.join(seen)} already (seen items are not "
            "ranked), so no user has an item to find")


def _protocol(data, dataset, cold):
    shares = "/".join(f"{r:g}" for r in data.ratios)
    split = {"random": f"data.split=random (each user's interactions at random, ratios {shares})",
             "leave_one_out": "data.split=leave_one_out (each user's latest interaction is the test, "
                              "the one before it the validation)",
             "predefined": f"data.split=predefined (the split {dataset.name} ships)"}[data.split]
    if cold:
        return (f"the cold-start evaluation (data.cold_start_fraction={data.cold_start_fraction:g}: "
                f"the held-out items' interactions are the test, the rest split at random, ratios {shares})")
    return split


def _needs(data, dataset, part, cold):
    if part == "train":
        return "each part needs interactions"
    if data.split == "predefined" and not cold:
        return f"the files of {dataset.name} must put interactions in every part"
    if data.split == "leave_one_out" and not cold:
        return "a user needs at least 3 interactions to have one in valid and one in test"
    valid, test = rows_needed(data.ratios)
    needs = {"valid": valid, "test": test}[part]
    text = (f"a user needs at least {needs} interactions to have one in {part}" if needs
            else f"no user size gives {part} a row at these ratios")
    if cold and part == "test":
        text = "the held-out items need interactions by users who did not have them before"
    return text


def _sizes(dataset):
    frame = dataset.interactions.frame
    per_user = frame.groupby("user_id").size()
    return (f"{len(frame)} interaction(s) of {frame['user_id'].nunique()} user(s) and "
            f"{frame['item_id'].nunique()} item(s), at most {int(per_user.max()) if len(per_user) else 0} "
            "per user")


def _fix(data, dataset, part, cold):
    if data.split == "predefined" and not cold:
        fixes = [f"complete the {dataset.name} files", "use data.split=random or data.split=leave_one_out"]
    else:
        fixes = ["add interactions (more users, with more interactions each)", "use a bigger file"]
    if cold:
        fixes.append("set data.cold_start_fraction=0 (no cold-start evaluation)")
    return ", or ".join(fixes)


def check_impressions(data, dataset, indexed):
    """Raises DataError unless every part of `indexed` (IndexedImpressions) has an
    impression with both a click and a non-click: what training learns from, and
    what AUC and MRR rank."""
    for part in ("train", "valid", "test"):
        p = indexed.parts[part]
        sizes = np.diff(p.offsets)
        clicks = np.add.reduceat(p.labels.astype(np.int64), p.offsets[:-1]) if p.size else np.zeros(0)
        if ((clicks > 0) & (clicks < sizes)).any():
            continue
        shares = "/".join(f"{r:g}" for r in data.ratios)
        raise DataError(
            f"{dataset.interactions.source}: too little data for data.split=impressions (impressions "
            f"drawn at random, ratios {shares}): the {part} part has {p.size} impression(s), none with "
            f"both a click and a non-click ({_JOBS[part]}: a click is ranked against the news shown "
            f"beside it). The data has {len(dataset.impressions)} impression(s) of "
            f"{dataset.impressions['user_id'].nunique()} user(s). Fix: add impressions (each with a "
            "clicked and a non-clicked news, e.g. `N1-1 N2-0`), or use a bigger behaviors.tsv.")
