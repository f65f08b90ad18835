"""`epoch_dataset`, `epoch_batches`: one epoch's batches of in-memory examples, in an order fixed by the epoch."""

import tensorflow as tf


def epoch_dataset(users, items, batch_size, seed, epoch, periods=None, labels=None, folds=None):
    """`{"user", "item"}` batches (and `"period"`, `"label"`, `"fold"`, when given) in an order fixed by (seed, epoch).

    Each epoch's order depends on nothing but its number, so a resumed run
    sees exactly the batches an uninterrupted one would. Under a
    multi-worker strategy every worker builds the same batches and keeps its
    replicas' slices of each (DATA sharding: the tensors are in memory, there
    are no files to share out), so `batch_size` stays the global batch.
    """
    features = {"user": tf.constant(users, tf.int32), "item": tf.constant(items, tf.int32)}
    if periods is not None:
        features["period"] = tf.constant(periods, tf.int32)
    if labels is not None:
        features["label"] = tf.constant(labels, tf.float32)
    if folds is not None:
        features["fold"] = tf.constant(folds, tf.int32)
    return epoch_batches(features, batch_size, seed, epoch)


def epoch_batches(features, batch_size, seed, epoch):
    """Batches of `features` (tensors of one length, e.g. `{"sequence": [n, L]}`), shuffled
    by (seed, epoch) alone, as `epoch_dataset`'s."""
    size = int(next(iter(features.values())).shape[0])
    data = tf.data.Dataset.from_tensor_slices(features)
    data = data.shuffle(size, seed=seed * 100_003 + epoch, reshuffle_each_iteration=False).batch(batch_size)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return data.with_options(options)
