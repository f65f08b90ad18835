"""`id_lookup`: the string-id -> index table every export signature reads its ids through."""

import numpy as np
import tensorflow as tf


def id_lookup(ids):
    """A `StaticHashTable` from each id of `ids` to its position (int64); -1 for an id not in `ids`.

    Example:
    >>> id_lookup(["a", "b"]).lookup(tf.constant(["b", "zz"])).numpy().tolist()
    [1, -1]
    """
    ids = np.asarray(ids, dtype=str)
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(ids), tf.range(len(ids), dtype=tf.int64)), default_value=-1)
