"""The ranking stage of a run folder, restored: `load_ranker`."""

import tensorflow as tf

from tfllmrec.models import CandidateReranker
from tfllmrec.models.item_regression import WEIGHTS_PER_ITEM
from tfllmrec.tasks import build_two_tower
from tfllmrec.tasks.rating import build_rating_model
from tfllmrec.tasks.rerank import build_reranker, reranker_sample

RANKING_CHECKPOINT = "checkpoints/ranking/best"


def load_ranker(run_dir, config, num_users, num_items, num_periods=0, item_bias=False):
    """The run's trained `TextRanking` or `CandidateReranker`, or None when its
    recipe has no ranking stage. A reranker still has to `follow` the run's
    retrieval model as it serves (`TrainedRun` does).

    Raises the checkpoint's own read errors (the caller names the damage)."""
    ranking = config.ranking
    if not ranking.enabled:
        return None
    checkpoint = str(run_dir / RANKING_CHECKPOINT)
    # Sizes the data gave the model, read back from its variables.
    shapes = tf.train.load_checkpoint(checkpoint).get_variable_to_shape_map()
    text_dim = None
    if ranking.use_text:
        text_dim = next((shape[1] for name, shape in shapes.items()
                         if ("text_table" in name or "text_units" in name) and len(shape) == 2), None)
    user_text_dim = next((shape[1] for name, shape in shapes.items() if "user_profiles" in name), None)
    if ranking.objective == "rerank":
        sizes = {key: next((shape[0] for name, shape in shapes.items() if key in name), 0)
                 for key in ("pair_keys", "purchase_keys")}
        second_dim = next((shape[1] for name, shape in shapes.items() if "second_item_vectors" in name), 0)
        ease_capacity = next((shape[0] for name, shape in shapes.items() if "ease_keys" in name), 0)
        model = build_reranker(ranking, num_users, num_items, config.model.embedding_dim, text_dim, num_periods,
                               sizes["pair_keys"], item_bias, sizes["purchase_keys"], second_dim,
                               ease_capacity // WEIGHTS_PER_ITEM)
        sample = reranker_sample()
    else:
        model = build_rating_model(ranking, num_users, num_items, text_dim, user_text_dim)
        sample = {"user": tf.constant([0]), "item": tf.constant([0]), "label": tf.constant([1.0])}
    # Creates every variable to restore into, and builds the Keras objects (an export saves them).
    model.compute_loss(sample)
    model(sample)
    model.load_weights(checkpoint).expect_partial().assert_existing_objects_matched()
    return model


def load_second_retrieval(run_dir, config, num_users, num_items, text_dim=None):
    """The run's `ranking.second_retrieval` model (its phase's best
    checkpoint), or None when the reranker reads no second model.

    Raises the checkpoint's own read errors (the caller names the damage)."""
    ranking = config.ranking
    if not (ranking.enabled and ranking.second_retrieval):
        return None
    checkpoint = str(run_dir / "checkpoints" / ranking.second_retrieval / "best")
    shapes = tf.train.load_checkpoint(checkpoint).get_variable_to_shape_map()
    num_periods = next((shape[0] for name, shape in shapes.items() if "periods/embeddings" in name), 0)
    return restored_two_tower(config.baseline_model, num_users, num_items, text_dim, num_periods, checkpoint)


def restored_two_tower(model_config, num_users, num_items, text_dim, num_periods, checkpoint):
    """A run's `TwoTowerRetrieval` holding `checkpoint`'s weights; every
    variable of the model must be in it (the optimizer's slots, which
    serving needs none of, may be left over)."""
    model = build_two_tower(model_config, num_users, num_items, text_dim, num_periods)
    model.score(tf.constant([0]))  # creates the variables to restore into
    model.load_weights(str(checkpoint)).expect_partial().assert_existing_objects_matched()
    return model


def serve_ranker(ranker, retrieval, histories, second=None):
    """Sets a restored ranker's users as the retrieval stage serves them
    (and `second`, the model of `ranking.second_retrieval`): every `histories` item known."""
    if isinstance(ranker, CandidateReranker):
        ranker.follow(retrieval, histories, second)
    elif ranker is not None and ranker.max_history:
        ranker.user_tower.set_history(histories)
