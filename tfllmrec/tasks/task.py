"""`Task`: what every task plug-in of the runner provides."""

import dataclasses

import numpy as np
import tensorflow as tf

from tfllmrec.encoders import item_text_inputs, item_text_table
from tfllmrec.errors import RangeError
from tfllmrec.models import TwoTowerRetrieval


def build_two_tower(model_config, num_users, num_items, text_dim=None, num_periods=0):
    """The `TwoTowerRetrieval` of a recipe's `ModelConfig`: its fields are the model's options."""
    return TwoTowerRetrieval(num_users=num_users, num_items=num_items, text_dim=text_dim,
                             num_periods=num_periods, **dataclasses.asdict(model_config))


def with_main_phase_weights(model, workdir, phase="main"):
    """`model` holding the best weights of `phase` (the main one unless
    named), read from beside `workdir`: trained in this run, or earlier when
    the run resumed."""
    model.score(tf.constant([0]))  # creates the variables to restore into
    model.load_weights(str(workdir.parent / phase / "best")).expect_partial()
    return model


def text_table_of(model_config, texts):
    """The frozen item-text table of a recipe's encoder; a `sequence_length`
    past the encoder's maximum is named by its config key."""
    try:
        return item_text_table(texts, model_config.encoder, model_config.sequence_length)
    except RangeError as error:
        if error.name != "sequence_length" or error.rule is None:
            raise
        rule = error.rule
        raise rule.error("model.sequence_length", error.value, f"e.g. `--set model.sequence_length="
                         f"{rule.example}` ({model_config.encoder}'s maximum is {rule.high})") from None


def query_vectors(model, num_users):
    """`[num_users, d]` query vectors of every user, in batches."""
    batch = getattr(model, "query_batch_size", 4096)
    users = tf.range(num_users, dtype=tf.int32)
    return np.concatenate([model.query(users[i:i + batch]).numpy() for i in range(0, num_users, batch)])


class Task:
    """A kind of learning problem: its data, its models, its metrics.

    The runner (`tfllmrec.recipes.pipeline.train_recipe`) calls `prepare()`
    once, then `run(phase, workdir)` for each of `phases()` that has not
    finished yet, then `metrics(results)` and `artifacts()`. `TrainedRun`
    calls `evaluate_run(run)`, and the CLI `summary_lines(metrics)`.

    Args:
        config: RecipeConfig.
        verbose: int. 0 silent, 1 progress bars, 2 a line per epoch.
    """

    name = ""

    def __init__(self, config, verbose=0):
        self.config, self.verbose = config, verbose
        self.dataset = self.text_table = None

    def prepare(self):
        """Loads the data, splits it and computes the text table."""
        raise NotImplementedError

    def phases(self):
        """The `Phase`s of a run, in order."""
        raise NotImplementedError

    def run(self, phase, workdir):
        """Trains or scores `phase`'s model; returns its JSON-ready result."""
        return getattr(self, f"_run_{phase.kind}")(phase, workdir)

    def metrics(self, results):
        """`metrics.json` (without timing) from every phase's result, by name."""
        raise NotImplementedError

    def artifacts(self):
        """What `TrainedRun` reads besides the checkpoint: dict of user_ids,
        item_ids, texts, seen (item indices per user) and periods."""
        raise NotImplementedError

    def attach_text_inputs(self, model):
        """Gives a model that fine-tunes its encoder the items' cached encoder
        inputs (`item_text_inputs`), before it trains; `model` otherwise."""
        if getattr(model, "fine_tunes_text", False):
            model.set_text_inputs(*item_text_inputs(self.dataset.items.texts(), model.live_text))
        return model

    def ranking_text_table(self, retrieval):
        """The item-text table a ranking stage reads: the retrieval model's
        own (fine-tuned) one when its encoder trained, else the frozen one."""
        if not self.config.ranking.use_text:
            return None
        if getattr(retrieval, "fine_tunes_text", False):
            return retrieval.item_tower.text_table.numpy()
        return self.text_table

    @property
    def text_dim(self):
        return None if self.text_table is None else int(self.text_table.shape[1])

    def headline(self, result):
        """One line of a phase's result for the log: its monitored test metric."""
        test = result.get("test", {})
        key = self.config.eval.monitor if self.config.eval.monitor in test else next(iter(test), None)
        return f"test {key} {test[key]:.4f}" if key else ""
