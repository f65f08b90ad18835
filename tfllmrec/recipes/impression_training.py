"""Trains a news model on impressions: best epoch by validation AUC, resumable."""

import os
import time

import numpy as np
import tensorflow as tf

from tfllmrec.training import make_optimizer
from tfllmrec.training.epoch_state import end_epoch, load_state, result, write_state

class TwoTowerScorer:
    """Impression logits and serving vectors of a `TwoTowerRetrieval`."""

    def __init__(self, model):
        self.model = model

    def logits(self, users, items, training=False):
        """`[batch, c]` scores of `items` `[batch, c]` (-1 = padding) over the temperature."""
        model = self.model
        # The click (column 0) is left out of the user's pooled history.
        query = model.query(users, exclude_items=items[:, 0] if training else None, training=training)
        flat = model.candidates(tf.reshape(tf.maximum(items, 0), [-1]), training=training)
        candidates = tf.reshape(flat, tf.concat([tf.shape(items), [-1]], 0))
        return tf.einsum("bd,bcd->bc", query, candidates) / model.temperature

    def catalogue_loss(self, users, clicks):
        """Mean full-softmax loss of the clicks over the whole catalogue."""
        features = {"user": users, "item": clicks}
        return self.model.compute_loss(features, training=True) / tf.cast(tf.shape(users)[0], tf.float32)

    def vectors(self, num_users):
        users = tf.range(num_users, dtype=tf.int32)
        queries = [self.model.query(users[i:i + 4096]).numpy() for i in range(0, num_users, 4096)]
        return np.concatenate(queries), self.model.candidates().numpy()

    def offsets(self):
        """Per-item score offsets added to the vectors' dot products, or None."""
        return self.model.offsets()


class NRMSScorer:
    """Impression logits and vectors of an `NRMS` model."""

    def __init__(self, model):
        self.model = model

    def logits(self, users, items, training=False):
        return self.model({"user": users, "items": tf.maximum(items, 0)}, training=training)

    def catalogue_loss(self, users, clicks):
        logits = tf.matmul(self.model.user_vectors(users, training=True),
                           self.model.news_vectors(training=True), transpose_b=True)
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(clicks, logits))

    def vectors(self, num_users):
        users = tf.range(num_users, dtype=tf.int32)
        queries = [self.model.user_vectors(users[i:i + 1024]).numpy() for i in range(0, num_users, 1024)]
        return np.concatenate(queries), self.model.news_vectors().numpy()

    def offsets(self):
        return None


def fit_on_impressions(scorer, data, train, validate, monitor, workdir, negatives=4, catalogue_weight=0.0,
                       verbose=1):
    """Fits `scorer.model` with a softmax over each click and its impression's negatives.

    The loss is NRMS's: for every click in a training impression, cross-entropy
    of the click against up to `negatives` non-clicked candidates of the same
    impression. After every epoch `validate()` is called; the best epoch by
    `monitor` is kept in `workdir/best` and loaded on return. Model,
    optimizer and progress go to `workdir/last` and `workdir/state.json`
    each epoch, so a killed run resumes from its last finished epoch.

    Args:
        scorer: TwoTowerScorer or NRMSScorer.
        data: IndexedImpressions.
        train: TrainConfig (epochs, batch_size, learning_rate, weight_decay,
            patience, seed).
        validate: callable() -> dict of validation metrics.
        monitor: str. Key of the validation metric to maximise, e.g. "auc".
        workdir: str or Path.
        negatives: int. Negatives per click (NRMS's npratio).
        verbose: int. 0 silent; otherwise one line per epoch.

    Returns:
        dict with best_epoch, epochs_run, valid, valid_history, loss_history, seconds.
    """
    workdir = str(workdir)
    os.makedirs(workdir, exist_ok=True)
    model = scorer.model
    optimizer = make_optimizer(train.learning_rate, train.weight_decay)
    users, items = data.examples(negatives, train.seed, 0)
    if not len(users):
        raise ValueError("No training impression has both a click and a non-click to learn from.")
    scorer.logits(tf.constant(users[:2], tf.int32), tf.constant(items[:2], tf.int32))  # variables
    optimizer.build(model.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    state = load_state(workdir, checkpoint)
    spec = [tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, None], tf.int32)]

    @tf.function(input_signature=spec)
    def step(users, items):
        with tf.GradientTape() as tape:
            logits = tf.cast(scorer.logits(users, items, training=True), tf.float32)
            logits = tf.where(items >= 0, logits, -1e9)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                tf.zeros_like(users), logits))
            if catalogue_weight:
                loss += catalogue_weight * scorer.catalogue_loss(users, items[:, 0])
        variables = model.trainable_variables
        gradients = tape.gradient(loss, variables)
        optimizer.apply_gradients([(g, v) for g, v in zip(gradients, variables) if g is not None])
        return loss

    start = time.time() - state["seconds"]
    for epoch in range(state["epochs_run"], train.epochs):
        if state["stopped"]:
            break
        tf.keras.utils.set_random_seed(train.seed * 1_009 + epoch)
        users, items = data.examples(negatives, train.seed, epoch)
        order = np.random.default_rng([train.seed, epoch, 1]).permutation(len(users))
        losses = [float(step(tf.constant(users[b], tf.int32), tf.constant(items[b], tf.int32)))
                  for b in np.array_split(order, max(1, -(-len(order) // train.batch_size)))]
        metrics = validate()
        end_epoch(state, epoch, np.mean(losses), metrics, monitor, train.patience,
                  lambda: model.save_weights(os.path.join(workdir, "best")))
        if verbose:
            print(f"epoch {epoch + 1}: loss {state['loss_history'][-1]:.4f}, validation {monitor} "
                  f"{metrics[monitor]:.4f} (best {state['valid'][monitor]:.4f} at epoch "
                  f"{state['best_epoch']})", flush=True)
        state["seconds"] = round(time.time() - start, 1)
        checkpoint.write(os.path.join(workdir, "last"))
        write_state(workdir, state)
    model.load_weights(os.path.join(workdir, "best")).expect_partial()
    return result(state)
