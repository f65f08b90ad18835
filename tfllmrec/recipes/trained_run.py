"""`TrainedRun`: a finished run folder, loaded back for evaluation and serving."""

import json

import numpy as np
import tensorflow as tf

from tfllmrec.errors import ConfigError, RunFolderError, TfllmrecError
from tfllmrec.files import require_path
from tfllmrec.ranges import K
from tfllmrec.recipes.item_catalogue import ItemCatalogue
from tfllmrec.recipes.profile_recommendations import ProfileRecommendations
from tfllmrec.recipes.registry import run_config
from tfllmrec.recipes.run_folder import MAIN_CHECKPOINT
from tfllmrec.recipes.trained_ranker import (RANKING_CHECKPOINT, load_ranker, load_second_retrieval,
                                             restored_two_tower, serve_ranker)
from tfllmrec.tasks import task_for
from tfllmrec.towers.text_placement import search_scores

# What a damaged checkpoint raises while it is read: TF's own errors (bad
# magic number, checksum mismatch, missing shard), IndexError ("Read less
# bytes than requested" for a truncated data file), ValueError/KeyError for
# unexpected contents, and AssertionError from assert_existing_objects_matched.
_CHECKPOINT_ERRORS = (tf.errors.OpError, IndexError, ValueError, KeyError, AssertionError)


class TrainedRun(ItemCatalogue, ProfileRecommendations):
    """A run folder written by `train_recipe`, with its model restored.

    Args:
        run_dir: str or Path. The folder `tfllmrec train --output` wrote.

    Raises:
        RunFolderError: `run_dir` does not exist or is a file, a file of
            the run is missing or unreadable, or the checkpoint is truncated
            or corrupt (a ConfigError).
        ConfigError: the run's config.yaml is not a valid recipe.

    Example (a tiny run: 6 items, 8 users, one epoch of a random BERT):
    >>> from tfllmrec.recipes import get_recipe, with_overrides
    >>> from tfllmrec.recipes.pipeline import train_recipe
    >>> rows = "".join(f"u{u},i{(u + k) % 6}\\n" for u in range(8) for k in range(5))
    >>> _ = open("events.csv", "w").write("user,item\\n" + rows)
    >>> _ = open("items.csv", "w").write("item,title\\n" + "".join(f"i{i},item {i}\\n" for i in range(6)))
    >>> recipe = with_overrides(get_recipe("video"), [
    ...     "data.dataset=tabular", "data.interactions=events.csv", "data.items=items.csv",
    ...     "data.columns={user_id: user, item_id: item}", "data.text_fields=[title]",
    ...     "data.cold_start_fraction=0", "eval.baselines=[]", "model.encoder=tiny-random", "train.epochs=1",
    ...     "ranking.enabled=false"])  # no ratings in these files
    >>> _ = train_recipe(recipe, "run", verbose=0)
    >>> run = TrainedRun("run")
    >>> [(item, text) for item, text, score in run.recommend_for_user("u0", k=1)]   # u0 saw i0-i4
    [('i5', 'item 5')]
    """

    def __init__(self, run_dir):
        self.run_dir = require_path(run_dir, "folder", "Run folder", "pass the folder that `tfllmrec "
                                    "train` wrote (its --output; runs/RECIPE by default)", RunFolderError)
        for name in ("config.yaml", "metrics.json", "vocab.json", "seen.json"):
            if not (self.run_dir / name).is_file():
                config = self.run_dir / "config.yaml"
                recipe = config if config.is_file() else "RECIPE"
                raise RunFolderError(
                    f"{self.run_dir} is not a finished run: {name} is missing "
                    f"(training was interrupted, or the folder was copied in part). "
                    f"Fix: finish the run with `tfllmrec train {recipe} --output "
                    f"{self.run_dir}` (an unfinished run resumes where it stopped; add "
                    "--overwrite to retrain from scratch), or restore the folder from "
                    "a backup."
                )
        self.config = run_config(self.run_dir / "config.yaml")
        vocab = self._read_json("vocab.json")
        try:
            self.user_ids = np.asarray(vocab["user_ids"], dtype=str)
            self.item_ids = np.asarray(vocab["item_ids"], dtype=str)
            self.item_texts = np.asarray(vocab["item_texts"], dtype=str)
            seen = self._read_json("seen.json")
            self.seen = seen["seen"]
            self.num_periods = int(seen.get("num_periods", 0))
            self.period_range = seen.get("period_range")
        except (KeyError, TypeError) as error:
            raise self._damaged("vocab.json or seen.json", f"missing entry {error}") from None
        if self.config.model.period_days and not (self.num_periods and self.period_range):
            raise self._damaged("seen.json", "the model has time periods (model.period_days) but "
                                "seen.json lacks num_periods and period_range")
        self.metrics = self._read_json("metrics.json")
        self._checkpoint = checkpoint = self.run_dir / MAIN_CHECKPOINT
        try:
            text_dim = self._text_dim() if self.config.model.use_text else None
            self.model = restored_two_tower(self.config.model, len(self.user_ids), len(self.item_ids), text_dim,
                                            self.num_periods, checkpoint)
            checkpoint = self.run_dir / RANKING_CHECKPOINT
            # The ranking stage (`ranking.enabled`), or None.
            self.ranker = load_ranker(self.run_dir, self.config, len(self.user_ids), len(self.item_ids),
                                      self.num_periods, self.model.item_bias)
            checkpoint = self.run_dir / "checkpoints" / self.config.ranking.second_retrieval / "best"
            # The model whose score the reranker reads beside ours' (ranking.second_retrieval), or None.
            self.second = load_second_retrieval(self.run_dir, self.config, len(self.user_ids), len(self.item_ids),
                                                text_dim)
        except TfllmrecError:
            raise
        except _CHECKPOINT_ERRORS as error:
            reason = getattr(error, "message", None) or str(error) or type(error).__name__
            raise self._damaged(
                f"the checkpoint {checkpoint} (.index and .data-* files)",
                f"{type(error).__name__}: {reason.strip().splitlines()[0]}") from None
        self._serve_with_everything_known()
        self._encoder = None
        self._start_catalogue()

    def _damaged(self, what, reason):
        return RunFolderError(
            f"{self.run_dir} is damaged: {what} cannot be read ({reason}). The "
            "folder was truncated or changed after training (an interrupted copy, "
            f"a full disk). Fix: restore {self.run_dir} from a backup, or retrain "
            f"it: `tfllmrec train {self.run_dir / 'config.yaml'} --output "
            f"{self.run_dir} --overwrite`."
        )

    def _read_json(self, name):
        try:
            return json.loads((self.run_dir / name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise self._damaged(name, f"{type(error).__name__}: {error}") from None

    def _text_dim(self):
        reader = tf.train.load_checkpoint(str(self._checkpoint))
        for name, shape in reader.get_variable_to_shape_map().items():
            if "text_table" in name and len(shape) == 2:
                return shape[1]
        raise self._damaged(f"the checkpoint {self._checkpoint}",
                            "it holds no item text table, but config.yaml has model.use_text=true")

    def user_index(self, user_id):
        """Index of `user_id`, or None for an unknown user."""
        position = np.searchsorted(self.user_ids, str(user_id))
        if position < len(self.user_ids) and self.user_ids[position] == str(user_id):
            return int(position)
        return None

    def _top(self, scores, k, exclude=()):
        scores = np.asarray(scores, np.float64).copy()
        scores[list(exclude)] = -np.inf
        k = min(k, int(np.isfinite(scores).sum()))
        best = np.argsort(-scores, kind="stable")[:k]
        return [(str(self.item_ids[i]), str(self.item_texts[i]), float(scores[i])) for i in best]

    @property
    def text_encoder(self):
        """The `TextEncoder` of new items and text queries: the one the
        model fine-tuned (restored with it), else the recipe's frozen one."""
        if self._encoder is None:
            self._encoder = self.model.text_encoder
        if self._encoder is None:
            from tfllmrec.encoders import TextEncoder

            self._encoder = TextEncoder.from_preset(
                self.config.model.encoder, sequence_length=self.config.model.sequence_length
            )
        return self._encoder

    def _encode(self, texts):
        return self.text_encoder(tf.constant(texts))

    def recommend_for_user(self, user_id, k=10, ranked=None):
        """Top-k unseen items for a known user: [(item_id, text, score)].

        Fewer than `k` when the user has seen all but a few items. A `k`
        that is not a positive integer is a RangeError; an unknown user a
        ConfigError. With a ranking stage (`self.ranker`) and `ranked`
        (the default then), two stages, as the export's `recommend_ranked`:
        the `export.rank_candidates` best retrieved items re-ordered by the
        ranking model, whose score (a predicted rating, or a reranker's score) is returned.
        """
        k = K.check(k, "k")
        if ranked is None:
            ranked = self.ranker is not None
        user = self.user_index(user_id)
        if user is None:
            raise ConfigError(
                f"Unknown user {user_id!r}; this run knows {len(self.user_ids)} users "
                f"(e.g. {', '.join(self.user_ids[:3])}). Use --text for a free-text query."
            )
        query = self.model.query(tf.constant([user])).numpy()[0]
        scores = self.item_vectors() @ query
        offsets = self.item_offsets()
        retrieved = self._top(scores if offsets is None else scores + offsets,
                              self.config.export.rank_candidates if ranked else k, exclude=self.seen[user])
        return self._ranked(user, retrieved, k) if ranked else retrieved

    def _ranked(self, user, shortlist, k):
        """The shortlist re-ordered by the ranking model's scores."""
        if self.ranker is None:
            raise ConfigError(f"{self.run_dir} has no ranking stage (ranking.enabled=false); use ranked=False.")
        if self.num_added_items:
            raise ConfigError("The ranking stage knows the training catalogue only, and items were added "
                              "(add_items). Fix: ranked=False, or add the items to the data and retrain.")
        position = {item: i for i, item in enumerate(self.item_ids)}
        items = np.array([[position[item] for item, _, _ in shortlist]], np.int32)
        scores = self.ranker.score_candidates(tf.constant([user]), tf.constant(items)).numpy()[0]
        order = np.argsort(-scores, kind="stable")[:k]
        return [(shortlist[i][0], shortlist[i][1], float(scores[i])) for i in order]

    def recommend_for_text(self, text, k=10):
        """Top-k items for a free-text query: a search over `search_vectors()`.

        A `k` that is not a positive integer is a RangeError; an empty query a ConfigError.
        """
        k = K.check(k, "k")
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"The text query {text!r} is empty, or not a string: a query is "
                              "what its items are ranked by. Fix: give some words, e.g. "
                              "\"space adventure\".")
        if not self.config.model.use_text:
            raise ConfigError("This run's model has no text path (model.use_text=false).")
        embedding = self._encode([text])
        placed = self.model.item_tower.text_only_vectors(embedding)
        cosine, _, popularity = weights = self.config.search.weights
        # Each query reads only the parts its weights use (the table copy and the counts are not free).
        scores = search_scores(weights, placed, self.search_vectors(), embedding,
                               self.search_embeddings() if cosine else None,
                               np.log1p(self.item_counts()) if popularity else None)
        return self._top(scores.numpy()[0], k)

    def evaluate(self):
        """Recomputes the test metrics from the data (re-split with the run's seed)."""
        try:
            return task_for(self.config).evaluate_run(self)
        finally:
            self._serve_with_everything_known()

    def _serve_with_everything_known(self):
        """Each user's whole history, test included, asked now: the latest
        trained period (a later request falls in it too)."""
        for model in (self.model, self.second):
            if model is not None and model.max_history:
                model.user_tower.set_history(self.seen)
            if model is not None and model.num_periods:
                model.user_tower.set_periods(np.full(len(self.user_ids), model.num_periods - 1))
        serve_ranker(self.ranker, self.model, self.seen, self.second)
