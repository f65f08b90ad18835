"""The run folder: created or resumed, JSON written atomically, provenance."""

import hashlib
import json
import shutil
import time

import numpy as np
import tensorflow as tf

from tfllmrec.errors import ConfigError
from tfllmrec.files import require_creatable_folder, write_atomic
from tfllmrec.recipes.config_tree import to_yaml
from tfllmrec.recipes.registry import run_config

# The main model's best epoch: what `TrainedRun`, `evaluate` and `export` load.
MAIN_CHECKPOINT = "checkpoints/main/best"


def check_output(out, config, overwrite):
    """How `out` would take a run of `config`: "new", "resume" or "replace" (with
    `overwrite`). Raises ConfigError if it cannot; writes nothing, so the
    data can be checked before a folder is made or an old run deleted."""
    require_creatable_folder(out, "Output folder", "choose another --output (a run folder)", ConfigError)
    if not (out.exists() and any(out.iterdir())):
        return "new"
    if overwrite:
        return "replace"
    if (out / "metrics.json").is_file():
        raise ConfigError(
            f"Output folder {out} already holds a finished run. Choose another "
            "--output, or pass --overwrite to replace it."
        )
    if not (out / "config.yaml").is_file():
        raise ConfigError(
            f"Output folder {out} is not empty and holds no tfllmrec run. Choose "
            "another --output, or pass --overwrite to replace its contents."
        )
    if not _same_config(out / "config.yaml", config):
        raise ConfigError(
            f"Output folder {out} holds an unfinished run of a different config; "
            "resume it with the same recipe and --set values (see its config.yaml), "
            "or pass --overwrite to start over."
        )
    return "resume"


def create_output(out, config, plan):
    """Makes the run folder as `check_output` planned: replaces an old run
    ("replace"), or creates it with `config.yaml` ("new"); "resume" keeps it."""
    if plan == "replace":
        shutil.rmtree(out)
    if plan in ("new", "replace"):
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(to_yaml(config))
    return out


def prepare_output(out, config, overwrite):
    """Creates the run folder, or checks an existing one can be resumed."""
    return create_output(out, config, check_output(out, config, overwrite))


def _same_config(path, config):
    """`path` holds `config`: compared parsed, so a field that a later
    tfllmrec added (at its default) does not stop an older run resuming,
    while one whose recipe value differs from that default does."""
    try:
        return run_config(path) == config
    except ConfigError:
        return False


def read_json(path):
    return json.loads(path.read_text()) if path.is_file() else None


def checksums(dataset):
    """md5 of the interactions and item texts the run saw (reproducibility)."""
    frame = dataset.interactions.frame[["user_id", "item_id"]].astype(str)
    interactions = hashlib.md5("\n".join(frame["user_id"] + "\t" + frame["item_id"]).encode()).hexdigest()
    items = hashlib.md5("\n".join(map(str, dataset.items.texts())).encode()).hexdigest()
    return {"interactions_md5": interactions, "item_texts_md5": items}


def write_json(path, data):
    write_atomic(path, json.dumps(data, indent=2, default=_jsonable))


def _jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def versions():
    import keras_hub
    import tensorflow_recommenders as tfrs

    from tfllmrec import __version__

    return {"tfllmrec": __version__, "tensorflow": tf.__version__,
            "tensorflow_recommenders": tfrs.__version__, "keras_hub": keras_hub.__version__}


def finish_run(out, metrics, timing, start, dataset):
    """Adds timing, versions and data checksums to `metrics` and writes
    `metrics.json` last: its presence is what marks the run finished."""
    timing["total_seconds"] = round(time.time() - start, 1)
    metrics["timing"] = timing
    metrics["versions"] = versions()
    metrics["data_checksums"] = checksums(dataset)
    write_json(out / "metrics.json", metrics)
    return metrics


# Where progress.json keeps each phase's `Phase.revision` (beside the phase results).
REVISIONS = "_revisions"


class PhaseResults:
    """`results(phase, run)` for the run folder `out`: calls `run()` once and
    keeps its (JSON) result in `progress.json`, so a resumed run skips every
    phase (a trained model, a baseline) that already finished.

    Each phase's `revision` is kept beside the results when it starts. A
    phase whose revision has changed since (its result means something else
    now) is measured again: its result is dropped, and `stale` says so, for
    the runner to restart its checkpoints. A folder from before revisions
    were kept holds revision 1 of every phase.
    """

    def __init__(self, out):
        self.path = out / "progress.json"
        self.progress = read_json(self.path) or {}
        self.revisions = self.progress.pop(REVISIONS, {})

    def stale(self, phase):
        """Whether this folder holds work of `phase` at another revision."""
        return self.revisions.get(phase.name, 1) != phase.revision

    def done(self, phase):
        """Whether `phase` finished in an earlier session, at its revision."""
        return phase.name in self.progress and not self.stale(phase)

    def __call__(self, phase, run):
        if not self.done(phase):
            self.progress.pop(phase.name, None)
            self.revisions[phase.name] = phase.revision
            self._write()
            self.progress[phase.name] = run()
            self._write()
        return self.progress[phase.name]

    def _write(self):
        write_json(self.path, {REVISIONS: self.revisions, **self.progress})


def write_artifacts(out, user_ids, item_ids, texts, seen, periods=None):
    """What `recommend` and `export` read besides the checkpoint:
    `vocab.json` (ids and item texts) and `seen.json` (items per user, and
    with `periods` = (num_periods, (first, last) training timestamp) the
    model's time periods)."""
    write_json(out / "vocab.json", {
        "user_ids": list(map(str, user_ids)),
        "item_ids": list(map(str, item_ids)),
        "item_texts": [str(t) for t in texts],
    })
    extra = {} if not periods else {"num_periods": int(periods[0]),
                                    "period_range": [int(t) for t in periods[1]]}
    write_json(out / "seen.json", {"seen": seen, **extra})
