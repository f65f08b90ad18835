"""The ranges numeric values obey, each written once and checked where a value enters.

A `Range` is the set of values an argument, a command-line option or a
config value may take. The CLI's option types, the configs'
`__post_init__` and the Python entry points (`TrainedRun`, `TextEncoder`,
the splits, the export) check with the same objects, so a rule has one
place and one message: `RangeError` names the value, the range and the fix.
No TensorFlow, NumPy or pandas: configs check their values as they are read.
"""

import math
import numbers

from tfllmrec.errors import RangeError


class Range:
    """The valid values of a numeric value: integers, or finite numbers, within bounds.

    Args:
        kind: int or float. Booleans are neither; ints are valid floats.
        low, high: the bounds, or None for none.
        low_open, high_open: bool. The bound itself is excluded.
        example: a valid value, shown in the fix.
        meaning: str. What special values mean, e.g. "0: off".

    Example:
    >>> dropout = Range(float, 0, 1, high_open=True, example=0.1)
    >>> dropout.describe()
    'in [0, 1) (a number)'
    >>> dropout.check(0.3, "id_dropout")
    0.3
    >>> dropout.check(1.5, "id_dropout")
    Traceback (most recent call last):
    ...
    tfllmrec.errors.RangeError: id_dropout must be in [0, 1) (a number), got 1.5. Fix: e.g. id_dropout=0.1.
    """

    def __init__(self, kind, low=None, high=None, *, low_open=False, high_open=False, example,
                 meaning=""):
        self.kind, self.low, self.high = kind, low, high
        self.low_open, self.high_open = low_open, high_open
        self.example, self.meaning = example, meaning

    def _bounds(self):
        low, high = self.low, self.high
        if self.kind is int and low == 1 and high is None:
            return "a positive integer"
        if low == 0 and self.low_open and high is None:
            return f"positive ({'an integer' if self.kind is int else 'a number'} > 0)"
        if high is None:
            text = f"{'>' if self.low_open else '>='} {low}"
        elif low is None:
            text = f"{'<' if self.high_open else '<='} {high}"
        elif self.kind is int and not (self.low_open or self.high_open):
            text = f"from {low} to {high}"
        else:
            text = f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
        return text

    def describe(self):
        """The range in words, e.g. "a positive integer", ">= 0 (an integer; 0: off)"."""
        text = self._bounds()
        kind = "an integer" if self.kind is int else "a number"
        notes = [] if text.startswith(("a positive", "positive")) else [kind]
        notes += [self.meaning] if self.meaning else []
        return f"{text} ({'; '.join(notes)})" if notes else text

    def contains(self, value):
        """Whether `value` is of the kind and inside the bounds (NaN and infinities never are)."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or not (value > self.high or (self.high_open and value == self.high))

    def check(self, value, name, fix=None):
        """Returns `value` if it is in range; else raises RangeError naming `name`.

        Args:
            value: the value to check.
            name: str. How the message names it: an argument, "model.x", "-k".
            fix: str or None. The fix; None: `e.g. NAME=EXAMPLE`.
        """
        if self.contains(value):
            return int(value) if self.kind is int else value
        raise self.error(name, value, fix)

    def error(self, name, value, fix=None):
        """The RangeError for `value` given as `name` (see `check`)."""
        shown = value.item() if hasattr(value, "item") and not isinstance(value, str) else value
        fix = fix or f"e.g. {name}={self.example!r}"
        return RangeError(f"{name} must be {self.describe()}, got {shown!r}. Fix: {fix}.",
                          name=name, value=value, rule=self)

    def parse(self, text, name, fix=None):
        """`text` (a command-line value) as a number in range; RangeError otherwise."""
        try:
            value = int(text) if self.kind is int else float(text)
        except (TypeError, ValueError):
            raise self.error(name, text, fix) from None
        return self.check(value, name, fix)


def check_fields(obj, rules):
    """Checks each attribute of `obj` named in `rules` (name -> Range)."""
    for name, rule in rules.items():
        rule.check(getattr(obj, name), name)


def check_shares(ratios, name="ratios", positive=("train",), example="(0.8, 0.1, 0.1)"):
    """Returns three shares (train, valid, test) as floats: each >= 0, summing to 1.

    Args:
        ratios: sequence of three numbers.
        name: str. How messages name them.
        positive: the parts whose share must be > 0 ("train", "valid", "test").
        example: str. Valid shares, as the fix writes them.

    Raises:
        RangeError: not three finite numbers, a negative share, a share in
            `positive` that is 0, or a sum other than 1.
    """
    fix = f"Fix: pass three shares for train, valid and test, e.g. {example}."
    try:
        values = [float(r) for r in ratios]
    except (TypeError, ValueError):
        values = None
    if values is None or len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise RangeError(f"{name}={ratios!r} must be three numbers. {fix}", name, ratios)
    if min(values) < 0 or values[0] <= 0:
        raise RangeError(f"{name}={ratios!r}: shares must be >= 0 and train > 0. {fix}", name, ratios)
    if not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise RangeError(f"{name}={ratios!r} sum to {sum(values):g}, not 1. {fix}", name, ratios)
    empty = [part for part, v in zip(("train", "valid", "test"), values) if part in positive and v == 0]
    if empty:
        raise RangeError(f"{name}={ratios!r}: the {' and '.join(empty)} share must be > 0 (the "
                         "runner picks the best epoch on valid and reports test). " + fix, name, ratios)
    return values


# Rules shared by more than one entry point.
K = Range(int, 1, example=10)  # items to return: `recommend -k`, TrainedRun, export.top_k
SEED = Range(int, 0, 2**32 - 1, example=42)  # what numpy and pandas seed with
VERSION = Range(int, 1, 2**63 - 1, example=1)  # a SavedModel version (TF Serving: int64)
PORT = Range(int, 1, 65535, example=8501)  # a TCP port to listen on
