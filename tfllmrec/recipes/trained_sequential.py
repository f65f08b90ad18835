"""A run's sequential model (`sequence:`), restored for serving: `load_sequential`."""

import tensorflow as tf

from tfllmrec.errors import ConfigError
from tfllmrec.tasks.sequential import build_sequential


def load_sequential(run_dir, config, name, num_users, num_items):
    """The trained `SequentialRetrieval` of phase `name` ("sasrec_id", ...) in a run folder.

    Raises:
        ConfigError: the run has no finished checkpoint of that phase.
    """
    checkpoint = run_dir / "checkpoints" / name / "best"
    try:
        shapes = tf.train.load_checkpoint(str(checkpoint)).get_variable_to_shape_map()
    except (tf.errors.NotFoundError, ValueError):
        raise ConfigError(f"{run_dir} has no trained {name!r} model ({checkpoint} is missing). Fix: train the run "
                          f"with {name} in eval.baselines, or export without export.history_model.") from None
    text_dim = _width(shapes, "text_table", 1)
    model = build_sequential(config, name, num_users, num_items, text_dim, _width(shapes, "period_embedding", 0) or 0)
    model.score(tf.constant([0]))  # creates every variable to restore into
    model.load_weights(str(checkpoint)).expect_partial().assert_existing_objects_matched()
    return model


def _width(shapes, variable, axis):
    """Size `axis` of the checkpoint variable whose key names `variable`, or None: the trained sizes
    (text width, time periods) come from the weights, not from the data as it is now."""
    return next((shape[axis] for key, shape in shapes.items() if variable in key), None)
