"""`parse_trainable`: the fine-tuning modes of a `TextEncoder` ("none", "all", "top:N")."""

import re

_TRAINABLE_HELP = 'Use "none", "all" or "top:N" (N >= 1 transformer layers).'


def parse_trainable(trainable, num_layers=None):
    """Normalises a trainability mode to "none", "all" or "top:N".

    Args:
        trainable: str or bool. `"none"`, `"all"`, `"top:N"`; `True` means
            `"all"`, `False` means `"none"`.
        num_layers: int or None. When given, N is checked against it.

    Returns:
        The canonical mode string.
    """
    if trainable is True:
        return "all"
    if trainable is False or trainable is None:
        return "none"
    if not isinstance(trainable, str):
        raise ValueError(f"trainable={trainable!r} is not a mode. {_TRAINABLE_HELP}")
    mode = trainable.strip().lower()
    if mode in ("none", "all"):
        return mode
    match = re.fullmatch(r"top:(\d+)", mode)
    if not match:
        raise ValueError(f"trainable={trainable!r} is not a mode. {_TRAINABLE_HELP}")
    n = int(match.group(1))
    if n == 0:
        return "none"
    if num_layers is not None and n > num_layers:
        raise ValueError(
            f"trainable={trainable!r} asks for {n} layers but the backbone has "
            f"{num_layers}. Use top:{num_layers} or \"all\"."
        )
    return f"top:{n}"
