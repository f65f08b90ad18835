"""`impression_split`: news impressions into train, validation and test."""

import dataclasses

import pandas as pd

from tfllmrec.errors import DataError
from tfllmrec.ranges import SEED, check_shares


@dataclasses.dataclass(frozen=True)
class ImpressionSplit:
    """Impressions (rows of `Dataset.impressions`) in three parts.

    Attributes:
        train, valid, test: pandas.DataFrame. Impression rows, index kept.
        dropped_empty_history: int. Impressions left out because the user's
            history is empty.
    """

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    dropped_empty_history: int = 0


def impression_split(dataset, ratios=(0.7, 0.03, 0.27), seed=2020, drop_empty_history=False):
    """Splits `dataset.impressions` at random, as NeMig's authors do.

    In file order (after dropping empty histories, if asked), a fraction
    `ratios[0]` is drawn for training with `DataFrame.sample(frac=...,
    random_state=seed)`, then `ratios[1] / (ratios[1] + ratios[2])` of the
    rest for validation; the remainder is the test part. With (0.7, 0.03,
    0.27) this is the split of `nemig_nrs` (`nemig_dataframe.py`): 70% train,
    10% of the rest validation.

    When the impressions carry MIND's own parts (a `part` column with
    "train" and "dev"), the dev part is the test part and the train part is
    split into train and validation by `ratios[0] : ratios[1]`.

    Args:
        dataset: tfllmrec.data.Dataset with `impressions` (and `histories`
            when `drop_empty_history`).
        ratios: three fractions summing to 1.
        seed: int.
        drop_empty_history: bool. Leave out impressions of users without a
            click history (NeMig's authors do; MIND's leaderboard does not).

    Returns:
        ImpressionSplit.

    Example:
    >>> import os; os.makedirs("en")  # a tiny NeMig folder: 4 articles, 40 impressions
    >>> _ = open("en/news.tsv", "w").write("".join(
    ...     f"N{k}\\tTitle {k}\\tAbstract {k}\\t\\t\\ttopic\\tneutral\\tleft\\n" for k in range(4)))
    >>> _ = open("en/behaviors.tsv", "w").write("".join(  # users U0 have no history
    ...     f"{k}\\tU{k % 5}\\t{'N0' if k % 5 else ''}\\tN1-1 N2-0\\n" for k in range(40)))
    >>> from tfllmrec.data import load_nemig
    >>> split = impression_split(load_nemig("en"), seed=1, drop_empty_history=True)
    >>> len(split.train), len(split.valid), len(split.test), split.dropped_empty_history
    (22, 1, 9, 8)
    """
    impressions = dataset.impressions
    if impressions is None or len(impressions) == 0:
        raise DataError(f"Dataset {dataset.name!r} has no impressions to split. Fix: load "
                        "news data (load_mind, load_nemig), or use another split.")
    ratios = tuple(check_shares(ratios))
    seed = SEED.check(seed, "seed")
    dropped = 0
    if drop_empty_history:
        histories = dataset.histories or {}
        keep = [bool(histories.get(user)) for user in impressions["user_id"]]
        dropped = len(keep) - sum(keep)
        impressions = impressions[keep]
    # Positions, not labels: MIND's parts repeat line numbers; pandas draws by position.
    frame = impressions.reset_index(drop=True)
    parts = frame["part"] if "part" in frame else pd.Series("", index=frame.index)
    if (parts == "dev").any() and (parts == "train").any():
        test = frame[parts == "dev"]
        frame = frame[parts == "train"]
        train = frame.sample(frac=round(ratios[0] / (ratios[0] + ratios[1]), 10), random_state=seed)
        valid = frame.drop(train.index)
    else:
        train = frame.sample(frac=ratios[0], random_state=seed)
        rest = frame.drop(train.index)
        share = ratios[1] / (ratios[1] + ratios[2]) if ratios[1] + ratios[2] else 0.0
        # Rounded: 0.03 / 0.3 is 0.0999..., and pandas rounds frac * n.
        valid = rest.sample(frac=round(share, 10), random_state=seed)
        test = rest.drop(valid.index)
    original = impressions.index
    return ImpressionSplit(*(_labels(part, original) for part in (train, valid, test)),
                           dropped_empty_history=dropped)


def _labels(part, original):
    """The part with the impressions' own index (line numbers) back."""
    out = part.copy()
    out.index = original[part.index.to_numpy()]
    return out
