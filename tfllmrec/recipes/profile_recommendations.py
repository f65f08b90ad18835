"""`ProfileRecommendations`: `TrainedRun`'s answers for a new user known only by a profile text."""

import tensorflow as tf

from tfllmrec.errors import ConfigError
from tfllmrec.ranges import K


class ProfileRecommendations:
    """For `TrainedRun`: its rating stage (`ranker`) scores a user it never saw from their profile.

    Reads the run's `ranker`, `model`, `config`, `item_ids`, `text_encoder`,
    `num_added_items`, `run_dir` and `_top`.
    """

    @property
    def profile_encoder(self):
        """The encoder of user profiles: the recipe's frozen one, which embedded the training
        profiles, whether or not the items' encoder fine-tuned."""
        if self.model.text_encoder is None:
            return self.text_encoder
        if "_profile_encoder" not in self.__dict__:
            from tfllmrec.encoders import TextEncoder

            self._profile_encoder = TextEncoder.from_preset(self.config.model.encoder,
                                                            sequence_length=self.config.model.sequence_length)
        return self._profile_encoder

    def recommend_for_profile(self, profile, k=10):
        """Top-k items for a new user known only by a profile text, e.g. "A
        30-year-old woman; occupation: engineer.": [(item_id, text, predicted rating)].

        The rating model scores the whole training catalogue for a user with
        no id and no rated items (the retrieval stage knows no new user), from
        the profile, embedded by the encoder that embedded the training
        profiles. Needs a rating stage with `ranking.user_profile`.
        """
        k = K.check(k, "k")
        if not isinstance(profile, str) or not profile.strip():
            raise ConfigError(f"The profile {profile!r} is empty, or not a string. Fix: describe the user as "
                              "the data's profiles do, e.g. \"A 30-year-old woman; occupation: engineer.\"")
        if self.ranker is None or not getattr(self.ranker, "user_text_dim", None):
            raise ConfigError(f"{self.run_dir}'s ranking stage reads no user profiles. Fix: train with "
                              "`--set ranking.user_profile=true` (and a users file), or ask by --user or --text.")
        if self.num_added_items:
            raise ConfigError("The rating stage knows the training catalogue only, and items were added "
                              "(add_items). Fix: ask without --new-items, or add the items to the data and retrain.")
        profiles = self.profile_encoder(tf.constant([profile]))
        items = tf.range(len(self.item_ids), dtype=tf.int32)[None, :]
        scores = self.ranker.score_candidates(tf.constant([-1]), items, profiles=profiles).numpy()[0]
        return self._top(scores, k)
