"""`train_recipe`: the one runner. Config -> task -> phases -> run folder."""

import shutil
import time
from pathlib import Path

import tensorflow as tf

from tfllmrec.recipes.run_folder import PhaseResults, check_output, create_output, finish_run, write_artifacts
from tfllmrec.tasks import task_for
from tfllmrec.training import make_strategy


def train_recipe(config, output_dir, overwrite=False, verbose=1):
    """Trains `config` and writes the run folder; returns its metrics dict.

    The recipe's task (`config.task`: retrieval or impressions) prepares the
    data and declares the phases: ours, each baseline, each cold-start
    model. Each runs once; its result is kept in `progress.json`, and each
    model checkpoints every epoch, so calling this again on an unfinished
    folder with the same config resumes where it stopped (a phase whose
    `Phase.revision` changed since starts over). Nothing is
    written until the data is loaded and found big enough for the split
    (`Task.prepare`); with `overwrite`, the old run is deleted only then.
    The folder gets `config.yaml` first (a failed run says what it ran),
    then checkpoints and TensorBoard logs, `vocab.json` and `seen.json`,
    and `metrics.json` last: its presence means the run finished.

    Args:
        config: RecipeConfig.
        output_dir: str or Path.
        overwrite: bool. Replace an existing run folder (finished or not).
        verbose: int. 0 silent; 1 phase headers and a progress bar per
            epoch; 2 phase headers and a line per epoch (for logs).
    """
    if "multi_worker" in (config.train.strategy, config.baseline_train.strategy, config.ranking.train.strategy):
        # Before any other TensorFlow op: collective ops are set up at start-up.
        make_strategy("multi_worker")
    out = Path(output_dir)
    layout = check_output(out, config, overwrite)
    # Same seed, same machine, same metrics: TensorFlow's deterministic ops.
    tf.config.experimental.enable_op_determinism()
    tf.keras.utils.set_random_seed(config.train.seed)
    start = time.time()
    task = task_for(config, verbose=verbose)
    _say(verbose, f"[data] {config.data.dataset}: loading, splitting and encoding item texts")
    # The data is loaded and checked against the protocol before the folder is
    # made (or an old run replaced): data too small for the split leaves none.
    task.prepare()
    phase_result = PhaseResults(create_output(out, config, layout))
    timing = {"data_and_text_seconds": round(time.time() - start, 1)}
    plan = task.phases()
    results = {}
    for number, phase in enumerate(plan, 1):
        _say(verbose, f"[{number}/{len(plan)}] {phase.name}: {phase.title}")
        done = phase_result.done(phase)
        workdir = out / "checkpoints" / phase.workdir
        if not done and phase_result.stale(phase) and phase.workdir and workdir.exists():
            _say(verbose, f"    its checkpoints are from another revision of {phase.name} "
                          f"(measured differently): starting it over")
            shutil.rmtree(workdir)
        results[phase.name] = phase_result(phase, lambda: task.run(phase, workdir))
        _say(verbose, f"    {'finished earlier (progress.json); ' if done else ''}{task.headline(results[phase.name])}")
    write_artifacts(out, **task.artifacts())
    return finish_run(out, task.metrics(results), timing, start, task.dataset)


def _say(verbose, line):
    if verbose:
        print(line, flush=True)
