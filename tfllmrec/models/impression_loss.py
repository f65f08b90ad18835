"""`impression_softmax_loss`: NRMS's loss over the items shown in one impression; `ctr_prior_scores`."""

import numpy as np
import tensorflow as tf


def impression_softmax_loss(logits, candidates):
    """Mean cross-entropy of each click (column 0) against its impression's non-clicks.

    The one definition of the news training loss, shared by every model that
    trains on impressions (`TwoTowerRetrieval`, `NRMS`).

    Args:
        logits: float tensor `[batch, c]`.
        candidates: int tensor `[batch, c]`: the clicked item first, then
            items shown and not clicked; -1 pads rows with fewer.

    Under a strategy with several replicas each replica's gradients are
    summed, so each divides its part's sum by the global batch size: the
    sum is the global batch's mean, as on one device.

    Example:
    >>> loss = impression_softmax_loss(tf.constant([[2.0, 0.0, 5.0]]), tf.constant([[3, 4, -1]]))
    >>> round(float(loss), 4)   # -log(e^2 / (e^2 + e^0)): the padded 5.0 takes no part
    0.1269
    """
    logits = tf.cast(logits, tf.float32)
    logits = tf.where(candidates >= 0, logits, -1e9)
    labels = tf.zeros(tf.shape(logits)[:1], tf.int32)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
    replica = tf.distribute.get_replica_context()
    if replica is None or replica.num_replicas_in_sync == 1:
        return tf.reduce_mean(losses)  # one device: the arithmetic of every earlier run
    # The replicas' parts of a batch can differ in size by one.
    global_size = replica.all_reduce("sum", tf.cast(tf.size(losses), tf.float32))
    return tf.reduce_sum(losses) / global_size


def ctr_prior_scores(log_rates, weight, temperature):
    """A click-through-rate prior (`IndexedImpressions.log_ctr_prior`) in score units.

    `weight` x the log rate is meant beside the logits, which divide the
    scores by the temperature; scores do not, so the offset added to a
    score is `weight * temperature * log_rate`.

    Example:
    >>> ctr_prior_scores(np.log([0.5, 0.25]), weight=4, temperature=0.1).round(4).tolist()
    [-0.2773, -0.5545]
    """
    return weight * temperature * np.asarray(log_rates, np.float64)
