"""`RankingStage`: a trained ranking model inside the export, behind `rank` and `recommend_ranked`."""

import numpy as np
import tensorflow as tf

from tfllmrec.export.id_lookup import id_lookup

ITEM_IDS = tf.TensorSpec([None, None], tf.string, name="item_ids")


class RankingStage(tf.Module):
    """The ranking model of a run and the item vocabulary it scores.

    The model itself is kept (its variables are the SavedModel's), so the
    served scores are its `score_candidates`, the function training and
    evaluation use. `RecommenderModule(ranker=...)` adds its signatures.

    Args:
        model: tfllmrec.models.TextRanking or CandidateReranker, trained
            (a reranker having followed the retrieval model it serves with).
        item_ids: array of str `[I]`: the ids of the model's item indices.

    Example:
    >>> from tfllmrec.models import TextRanking
    >>> stage = RankingStage(TextRanking(num_users=2, num_items=3), ["a", "b", "c"])
    >>> stage.score(tf.constant([0, -1]), tf.constant([["a", "c"], ["b", "b"]])).shape
    TensorShape([2, 2])
    """

    def __init__(self, model, item_ids):
        super().__init__(name="ranking_stage")
        self.model = model
        self.item_table = id_lookup(item_ids)

    def indices(self, item_ids):
        """Item indices of `item_ids`; -1 for an id the model does not know."""
        return self.item_table.lookup(item_ids)

    def score(self, users, item_ids):
        """Scores `[batch, n]` of known item ids, or InvalidArgument (HTTP 400) naming an unknown one."""
        items = self.indices(item_ids)
        unknown = tf.boolean_mask(item_ids, items < 0)
        known = tf.debugging.Assert(tf.equal(tf.size(unknown), 0),
                                    ["item_ids holds ids that are not in the catalogue of the ranking model, e.g.", unknown[:1]])
        with tf.control_dependencies([known]):  # checked before any lookup can fail on a -1
            items = tf.identity(items)
        return self.model.score_candidates(tf.cast(users, tf.int32), tf.cast(items, tf.int32))

    def rerank(self, users, item_ids, demoted, penalty):
        """The shortlist `item_ids` `[batch, n]` re-scored: unknown ids ("" from an
        index) score -inf, `demoted` items (a user's seen ones) `penalty` lower."""
        items = self.indices(item_ids)
        scores = self.model.score_candidates(tf.cast(users, tf.int32), tf.cast(tf.maximum(items, 0), tf.int32))
        scores = tf.where(items >= 0, scores, -np.inf)
        return tf.where(demoted, scores - penalty, scores)
