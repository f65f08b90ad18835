"""Trains a `TwoTowerRetrieval`: best-on-validation, checkpointed, resumable."""

import os
import time

import tensorflow as tf

from tfllmrec.errors import ConfigError
from tfllmrec.evaluation import RankingEvaluator
from tfllmrec.training.epoch_state import end_epoch, load_state, result, write_state
from tfllmrec.training.distribution import gather_from_workers, is_multi_worker, tf_config_worker


def make_optimizer(learning_rate, weight_decay=0.0):
    """Adam, or AdamW when `weight_decay` > 0 (tf-keras optimizers)."""
    if weight_decay > 0:
        return tf.keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
    return tf.keras.optimizers.Adam(learning_rate=learning_rate)


def epoch_dataset(users, items, batch_size, seed, epoch, periods=None):
    """`{"user", "item"}` batches (and `"period"`, when given) in an order fixed by (seed, epoch).

    Each epoch's order depends on nothing but its number, so a resumed run
    sees exactly the batches an uninterrupted one would. Under a
    multi-worker strategy every worker builds the same batches and keeps its
    replicas' slices of each (DATA sharding: the tensors are in memory, there
    are no files to share out), so `batch_size` stays the global batch.
    """
    features = {"user": tf.constant(users, tf.int32), "item": tf.constant(items, tf.int32)}
    if periods is not None:
        features["period"] = tf.constant(periods, tf.int32)
    data = tf.data.Dataset.from_tensor_slices(features)
    data = data.shuffle(len(users), seed=seed * 100_003 + epoch, reshuffle_each_iteration=False).batch(batch_size)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return data.with_options(options)


def evaluate_retrieval(model, targets, evaluator, candidates=None):
    """Full-ranking metrics of `model.score` on (users, positives, exclude)."""
    users, positives, exclude = targets

    def score_fn(batch):
        return model.score(tf.constant(batch, tf.int32)).numpy()

    return evaluator.evaluate(score_fn, users, positives, exclude=exclude, candidates=candidates)


def train_two_tower(model, index, train, monitor, ks, workdir, verbose=1):
    """Fits `model` on `index`'s train part, keeping the best validation epoch.

    After every epoch (and every `train.checkpoint_every_steps` steps) the
    model and optimizer go to `workdir/last` and the progress to
    `workdir/state.json` (written after the checkpoint, atomically): a run
    killed at any point resumes from its last checkpoint, skipping the
    batches already trained, with the same data order and random streams,
    when called again with the same `workdir`. The best epoch's weights are in `workdir/best`
    and are loaded into `model` on return.

    Under `MultiWorkerMirroredStrategy` every worker trains the same
    synchronised model and evaluates it alike, so each writes the same
    checkpoints and state to its own `workdir` (each worker has its own run
    folder; the chief's is the run). The workers first check that their
    workdirs are distinct and resume from the same point, and raise
    ConfigError together (rather than hang in a collective) when not.

    Args:
        model: TwoTowerRetrieval, with `set_training_data` already called.
        index: IndexedSplit.
        train: TrainConfig.
        monitor: str. Validation metric, e.g. "ndcg@10".
        ks: tuple of int. Cut-offs.
        workdir: str. Checkpoints, state and TensorBoard logs.
        verbose: int. Keras progress output (0, 1 bar, 2 line per epoch).

    Returns:
        dict with "best_epoch" (1-based), "epochs_run", "valid" (metrics at
        the best epoch), "valid_history", "loss_history" and "seconds".
    """
    os.makedirs(workdir, exist_ok=True)
    model.compile(optimizer=make_optimizer(train.learning_rate, train.weight_decay),
                  jit_compile=train.jit_compile)
    evaluator = RankingEvaluator(ks=ks)
    if monitor not in evaluator.keys():
        raise ValueError(f"monitor={monitor!r} is not one of {evaluator.keys()}.")
    targets = index.targets("valid", ["train"])
    # Create every variable, the optimizer's slots included, before a restore:
    # slots restored lazily on their first use are not reliably restored.
    model.compute_loss({"user": tf.constant([0]), "item": tf.constant([0])}, training=False)
    periods = index.periods(model.period_days, "train") if model.num_periods else None
    model.optimizer.build(model.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    state = load_state(workdir, checkpoint)
    if is_multi_worker(tf.distribute.get_strategy()):
        _check_workers_agree(tf.distribute.get_strategy(), workdir, state)
    writer = tf.summary.create_file_writer(os.path.join(workdir, "logs"))
    start = time.time() - state["seconds"]

    def save_mid_epoch(steps):
        state["epoch_steps"] = steps
        checkpoint.write(os.path.join(workdir, "last"))
        write_state(workdir, state)

    for epoch in range(state["epochs_run"], train.epochs):
        if state["stopped"]:
            break
        # Seeding per epoch makes shuffling independent of resumes; dropout
        # draws from the model's checkpointed generator.
        tf.keras.utils.set_random_seed(train.seed * 1_009 + epoch)
        data = epoch_dataset(index.train_users, index.train_items, train.batch_size, train.seed, epoch,
                             periods)
        done = state.get("epoch_steps", 0)
        if done:
            data = data.skip(done)  # resumed mid-epoch: those batches are trained
        callbacks = [_EveryNSteps(train.checkpoint_every_steps, done, save_mid_epoch)]
        history = model.fit(data, epochs=epoch + 1, initial_epoch=epoch, verbose=verbose,
                            callbacks=callbacks)
        state["epoch_steps"] = 0
        metrics = evaluate_retrieval(model, targets, evaluator)
        _log(writer, epoch, history.history["loss"][-1], metrics)
        end_epoch(state, epoch, history.history["loss"][-1], metrics, monitor, train.patience,
                  lambda: model.save_weights(os.path.join(workdir, "best")))
        if verbose:
            print(f"epoch {epoch + 1}: validation {monitor} {metrics[monitor]:.4f} "
                  f"(best {state['valid'][monitor]:.4f} at epoch {state['best_epoch']})")
        state["seconds"] = round(time.time() - start, 1)
        checkpoint.write(os.path.join(workdir, "last"))
        write_state(workdir, state)
    model.load_weights(os.path.join(workdir, "best")).expect_partial()
    return result(state)


class _EveryNSteps(tf.keras.callbacks.Callback):
    """Calls `save(steps_done_in_epoch)` every `every` training steps."""

    def __init__(self, every, offset, save):
        super().__init__()
        self.every, self.steps, self.save = int(every), int(offset), save

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.every and self.steps % self.every == 0:
            self.save(self.steps)


def _check_workers_agree(strategy, workdir, state):
    """Raises ConfigError on every worker unless they have separate workdirs
    and resume from one point (a mismatch would hang the first all-reduce)."""
    me = tf_config_worker().worker_id
    marker = os.path.join(workdir, f".worker-{me}")
    with open(marker, "w", encoding="utf-8"):
        pass
    # Gathers are collectives: past the first, every worker's marker is written.
    points = gather_from_workers(strategy, [state["epochs_run"], state.get("epoch_steps", 0)])
    others = sorted(n for n in os.listdir(workdir) if n.startswith(".worker-") and n != f".worker-{me}")
    shared_anywhere = gather_from_workers(strategy, [bool(others)])[:, 0].any()
    os.remove(marker)
    if shared_anywhere:
        raise ConfigError(
            f"Several workers of the cluster write to {workdir}{f' (found {others})' if others else ''}: "
            "give each worker its own --output folder (on a shared file system too); the "
            "chief's is the run. A marker left by a killed run can be deleted."
        )
    if len({tuple(row) for row in points.tolist()}) > 1:
        found = ", ".join(sorted({f"epoch {int(e)} step {int(s)}" for e, s in points.tolist()}))
        raise ConfigError(
            f"The workers' run folders resume from different points ({found}; this one: {workdir}). "
            "Restart every worker with --overwrite, or copy the chief's run folder to each worker's --output."
        )


def _log(writer, epoch, loss, metrics):
    with writer.as_default():
        tf.summary.scalar("train/loss", loss, step=epoch)
        for key, value in metrics.items():
            tf.summary.scalar(f"validation/{key}", value, step=epoch)
    writer.flush()


def evaluate_on_test(model, index, ks, cold=False):
    """Test metrics, the history now including validation interactions.

    Args:
        cold: bool. Rank only among `index.cold_items` (cold-start).
    """
    if model.max_history:
        model.user_tower.set_history(index.per_user("train", "valid"))
    if model.num_periods:
        # Each user is asked at the time of their test interaction (the latest of several).
        model.user_tower.set_periods(index.latest_periods(model.period_days, "test"))
    candidates = index.cold_items if cold else None
    targets = index.targets("test", ["train", "valid"])
    return evaluate_retrieval(model, targets, RankingEvaluator(ks=ks), candidates=candidates)
