"""The ranking stage of a run folder, restored: `load_ranker`."""

import tensorflow as tf

from tfllmrec.tasks.rating import build_rating_model

RANKING_CHECKPOINT = "checkpoints/ranking/best"


def load_ranker(run_dir, config, num_users, num_items):
    """The run's trained `TextRanking`, or None when its recipe has no ranking stage.

    Raises the checkpoint's own read errors (the caller names the damage)."""
    if not config.ranking.enabled:
        return None
    checkpoint = str(run_dir / RANKING_CHECKPOINT)
    text_dim = None
    if config.ranking.use_text:
        shapes = tf.train.load_checkpoint(checkpoint).get_variable_to_shape_map()
        text_dim = next((shape[1] for name, shape in shapes.items()
                         if "text_table" in name and len(shape) == 2), None)
    model = build_rating_model(config.ranking, num_users, num_items, text_dim)
    # Creates every variable to restore into, and builds the Keras objects (an export saves them).
    sample = {"user": tf.constant([0]), "item": tf.constant([0]), "label": tf.constant([1.0])}
    model.compute_loss(sample)
    model(sample)
    model.load_weights(checkpoint).expect_partial().assert_existing_objects_matched()
    return model
