"""The checks of a `TextEncoder`'s options and inputs, each with the fix."""

import numpy as np
import tensorflow as tf

from tfllmrec.model_rules import RANGES
from tfllmrec.ranges import Range

POOLINGS = ("mean", "cls")
_OUTPUT_DIM = Range(int, 1, example=128)
_LENGTH_BUCKETS = Range(int, 1, example=4, meaning="1: one chunk")


def check_number_options(sequence_length, output_dim, length_buckets):
    """The numeric options, checked before the preset loads (None: the preset's own, or none)."""
    if sequence_length is not None:
        RANGES["sequence_length"].check(sequence_length, "sequence_length")
    if output_dim is not None:
        _OUTPUT_DIM.check(output_dim, "output_dim")
    _LENGTH_BUCKETS.check(length_buckets, "length_buckets")


def check_loaded_options(pooling, sequence_length, backbone):
    """The options that depend on the loaded preset: its pooling, and its backbone's longest input."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling={pooling!r} is not one of {POOLINGS}.")
    limit = getattr(backbone, "max_sequence_length", None)
    if limit and sequence_length > limit:
        raise Range(int, 2, limit, example=min(128, limit)).error(
            "sequence_length", sequence_length,
            f"e.g. sequence_length={min(128, limit)} (the backbone's maximum is {limit})")


def check_texts(inputs):
    """`inputs` as a rank-1 tf.string tensor, or the error that says how to get one."""
    if isinstance(inputs, (list, tuple, np.ndarray)):
        inputs = tf.convert_to_tensor(inputs)
    if not isinstance(inputs, tf.Tensor) or inputs.dtype != tf.string:
        kind = getattr(inputs, "dtype", type(inputs).__name__)
        raise TypeError(
            f"TextEncoder takes a rank-1 tf.string tensor of raw texts; got {kind}. "
            'Pass texts, e.g. tf.constant(["red running shoe"]); map ids to their '
            "item texts first."
        )
    rank = inputs.shape.rank
    if rank is not None and rank != 1:
        hint = " Squeeze the last axis: tf.squeeze(x, -1)." if rank == 2 else ""
        raise ValueError(
            f"TextEncoder takes a rank-1 tensor [batch] of texts; got shape "
            f"{inputs.shape}.{hint}"
        )
    return inputs
