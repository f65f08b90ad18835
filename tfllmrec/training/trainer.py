"""`train_model`: the one training loop, `model.fit` over `compute_loss`, for every task."""

import os
import time

import tensorflow as tf

from tfllmrec.errors import ConfigError
from tfllmrec.training.encoder_optimizer import make_encoder_optimizer
from tfllmrec.training.distribution import gather_from_workers, is_multi_worker, tf_config_worker
from tfllmrec.training.epoch_state import end_epoch, load_state, result, write_state
from tfllmrec.training.progress import EpochProgress


def make_optimizer(learning_rate, weight_decay=0.0):
    """Adam, or AdamW when `weight_decay` > 0 (tf-keras optimizers)."""
    if weight_decay > 0:
        return tf.keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
    return tf.keras.optimizers.Adam(learning_rate=learning_rate)


def train_model(model, epoch_data, sample, train, validate, monitor, workdir, verbose=1):
    """Fits a `tfrs.Model` with `model.fit`, keeping the best validation epoch.

    After every epoch (and every `train.checkpoint_every_steps` steps) the
    model and optimizer go to `workdir/last` and the progress to
    `workdir/state.json` (written after the checkpoint, atomically): a run
    killed at any point resumes from its last checkpoint, skipping the
    batches already trained, with the same data order and random streams,
    when called again with the same `workdir`. The best epoch's weights are
    in `workdir/best` and are loaded into `model` on return; TensorBoard
    logs are in `workdir/logs`. Early stopping: `train.patience` epochs
    without a better `monitor`.

    Under `MultiWorkerMirroredStrategy` every worker trains the same
    synchronised model and evaluates it alike, so each writes the same
    checkpoints and state to its own `workdir` (the chief's is the run). The
    workers first check that their workdirs are distinct and resume from the
    same point, and raise ConfigError together (rather than hang in a
    collective) when not.

    Args:
        model: tfrs.Model, built in the strategy's scope (`training_scope`).
        epoch_data: callable(epoch) -> tf.data.Dataset of feature dicts: the
            epoch's batches, in an order fixed by the epoch's number.
        sample: dict of feature tensors. One small batch, run through
            `compute_loss` once to create every variable before a restore.
        train: TrainConfig.
        validate: callable() -> dict of validation metrics.
        monitor: str. The key of those metrics to maximise ("rmse" and
            "mae" are minimised).
        workdir: str or Path. Checkpoints, state and TensorBoard logs.
        verbose: int. 0 silent, 1 a bar per epoch, 2 a line per epoch.

    Returns:
        dict with "best_epoch" (1-based), "epochs_run", "valid" (metrics at
        the best epoch), "valid_history", "loss_history" and "seconds".
    """
    workdir = str(workdir)
    os.makedirs(workdir, exist_ok=True)
    model.compile(optimizer=make_optimizer(train.learning_rate, train.weight_decay),
                  jit_compile=train.jit_compile)
    # Create every variable, the optimizer's slots included, before a restore:
    # slots restored lazily on their first use are not reliably restored.
    model.compute_loss(sample, training=False)
    encoder = model.encoder_variables() if hasattr(model, "encoder_variables") else []
    owned = {v.ref() for v in encoder}
    model.optimizer.build([v for v in model.trainable_variables if v.ref() not in owned])
    parts = dict(model=model, optimizer=model.optimizer)
    if encoder:
        model.encoder_optimizer = parts["encoder_optimizer"] = make_encoder_optimizer(train)
        model.encoder_optimizer.build(encoder)
    checkpoint = tf.train.Checkpoint(**parts)
    state = load_state(workdir, checkpoint)
    if is_multi_worker(tf.distribute.get_strategy()):
        _check_workers_agree(tf.distribute.get_strategy(), workdir, state)
    writer = tf.summary.create_file_writer(os.path.join(workdir, "logs"))
    start = time.time() - state["seconds"]  # seconds of earlier (resumed) sessions count

    def save_mid_epoch(steps):
        state["epoch_steps"] = steps
        checkpoint.write(os.path.join(workdir, "last"))
        write_state(workdir, state)

    for epoch in range(state["epochs_run"], train.epochs):
        if state["stopped"]:
            break
        # Seeding per epoch makes data order and dropout independent of resumes
        # (id dropout draws from the model's checkpointed generator).
        tf.keras.utils.set_random_seed(train.seed * 1_009 + epoch)
        data = epoch_data(epoch)
        done = state.get("epoch_steps", 0)
        if done:
            data = data.skip(done)  # resumed mid-epoch: those batches are trained
        steps = int(data.cardinality()) if data.cardinality() >= 0 else None
        progress = EpochProgress(epoch, train.epochs, steps and steps + done, done, verbose)
        # The text table is re-embedded before a checkpoint or a validation reads it.
        refresh = [_RefreshText(model, train.encoder_refresh_steps)] if encoder else []
        model.fit(data, epochs=1, verbose=0,
                  callbacks=[progress, *refresh,
                             _EveryNSteps(train.checkpoint_every_steps, done, save_mid_epoch)])
        state["epoch_steps"] = 0
        metrics = validate()
        _log(writer, epoch, progress.mean("loss"), metrics)
        end_epoch(state, epoch, progress.mean("loss"), metrics, monitor, train.patience,
                  lambda: model.save_weights(os.path.join(workdir, "best")))
        if verbose:
            print(f"{progress.summary()}; validation {monitor} {metrics[monitor]:.4f} "
                  f"(best {state['valid'][monitor]:.4f} at epoch {state['best_epoch']})", flush=True)
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


class _RefreshText(tf.keras.callbacks.Callback):
    """Re-embeds a fine-tuning model's item texts (`refresh_text`) every
    `every` optimizer steps (0: never mid-epoch) and at the end of the epoch."""

    def __init__(self, model, every):
        super().__init__()
        self.fine_tuned, self.every = model, int(every)

    def on_train_batch_end(self, batch, logs=None):
        if self.every and int(self.fine_tuned.optimizer.iterations.numpy()) % self.every == 0:
            self.fine_tuned.refresh_text()

    def on_epoch_end(self, epoch, logs=None):
        self.fine_tuned.refresh_text()


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
