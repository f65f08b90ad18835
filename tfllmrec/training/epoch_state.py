"""A training loop's progress, kept beside its checkpoint so a killed run resumes.

Every epoch-based loop of the library (full-ranking retrieval, news
impressions) records the same things: epochs run, the best epoch by a
validation metric, the histories, the time spent and whether early stopping
fired. They live in `workdir/state.json`, written atomically after the
checkpoint `workdir/last`, so the two never disagree.
"""

import json
import os

from tfllmrec.files import write_atomic

STATE_FILE = "state.json"
# Validation metrics where lower is better (the rest are maximised).
MINIMISED = ("rmse", "mae")
RESULT_KEYS = ("best_epoch", "epochs_run", "valid", "valid_history", "loss_history", "seconds")


def load_state(workdir, checkpoint):
    """The saved progress of `workdir` (restoring `checkpoint` from `last`), or a fresh one."""
    path = os.path.join(workdir, STATE_FILE)
    if not os.path.isfile(path):
        return {"epochs_run": 0, "best_epoch": None, "valid": None, "valid_history": [],
                "loss_history": [], "seconds": 0.0, "stopped": False}
    with open(path, encoding="utf-8") as f:
        state = json.load(f)
    checkpoint.read(os.path.join(workdir, "last")).assert_existing_objects_matched()
    return state


def write_state(workdir, state):
    write_atomic(os.path.join(workdir, STATE_FILE), json.dumps(state))


def end_epoch(state, epoch, loss, metrics, monitor, patience, save_best):
    """Records epoch `epoch` (0-based): histories, best epoch, early stopping.

    Args:
        state: dict from `load_state`, updated in place.
        loss: float. The epoch's mean training loss.
        metrics: dict. Validation metrics of the epoch.
        monitor: str. The key of `metrics` to maximise (minimise, for `MINIMISED`).
        patience: int. Stop after this many epochs without a better value; 0 never.
        save_best: callable(). Saves the model as the best so far.
    """
    state["loss_history"].append(float(loss))
    state["valid_history"].append(metrics)
    sign = -1.0 if monitor in MINIMISED else 1.0
    if state["best_epoch"] is None or sign * metrics[monitor] > sign * state["valid"][monitor]:
        state.update(best_epoch=epoch + 1, valid=metrics)
        save_best()
    elif patience and epoch + 1 - state["best_epoch"] >= patience:
        state["stopped"] = True
    state["epochs_run"] = epoch + 1


def result(state):
    """What a training function returns: the best epoch and the histories."""
    return {k: state[k] for k in RESULT_KEYS}
