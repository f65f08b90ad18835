"""`RetrievalTask`: full-ranking retrieval over interactions, with a cold-start split."""

import numpy as np
import tensorflow as tf

from tfllmrec.data import cold_start_split, leave_one_out, load_dataset, random_split
from tfllmrec.errors import ConfigError, DataError
from tfllmrec.evaluation import Popularity, RankingEvaluator, SampledEvaluator
from tfllmrec.tasks.indexed_split import IndexedSplit, sampled_targets
from tfllmrec.tasks.phase import Phase
from tfllmrec.tasks.protocol_checks import check_retrieval_split
from tfllmrec.tasks.rating import (check_rating_stage, rating_metrics_of, rating_phases, rating_summary_lines,
                                   run_surprise, train_for_new_users, train_rating_model, user_profile_table)
from tfllmrec.tasks.rerank import rerank_phases, train_reranker, two_stage_evaluator, two_stage_lines
from tfllmrec.tasks.new_users import check_held_out_users, without_users
from tfllmrec.tasks.sequential import VARIANTS, needs_text, new_user_lines, sequential_phases, train_sequential
from tfllmrec.tasks.task import Task, build_two_tower, text_table_of, with_main_phase_weights
from tfllmrec.training import epoch_dataset, train_model, training_scope


def make_split(data, dataset):
    """The main split a DataConfig asks for."""
    if data.split == "predefined":
        if dataset.split is None:
            raise ConfigError(
                f"data.split=predefined, but {dataset.name} ships no split of its own. "
                "Fix: use data.split=random or data.split=leave_one_out."
            )
        return dataset.split
    if data.split == "leave_one_out":
        return leave_one_out(dataset.interactions)
    return random_split(dataset.interactions, ratios=data.ratios, seed=data.split_seed)


def evaluate_retrieval(model, targets, ks, candidates=None):
    """Full-ranking metrics of `model.score` on (users, positives, exclude)."""
    users, positives, exclude = targets

    def score_fn(batch):
        return model.score(tf.constant(batch, tf.int32)).numpy()

    return RankingEvaluator(ks=ks).evaluate(score_fn, users, positives, exclude=exclude, candidates=candidates)


def ask_at_test_time(model, index):
    """Sets a retrieval model's users as a test request finds them: their
    history now includes the validation interactions."""
    if model.max_history:
        model.user_tower.set_history(index.per_user("train", "valid"))
    if model.num_periods:
        # Each user is asked at the time of their test interaction (the latest of several).
        model.user_tower.set_periods(index.latest_periods(model.period_days, "test"))


def evaluate_on_test(model, index, ks, cold=False):
    """Test metrics, the history now including validation interactions.

    Args:
        cold: bool. Rank only among `index.cold_items` (cold-start).
    """
    ask_at_test_time(model, index)
    candidates = index.cold_items if cold else None
    return evaluate_retrieval(model, index.targets("test", ["train", "valid"]), ks, candidates=candidates)


class RetrievalTask(Task):
    """Users and the items they interacted with; Recall/NDCG@K over the whole catalogue.

    Phases: ours, popularity and the ID-only two-tower on the main split,
    then the same three on a split whose `data.cold_start_fraction` of items
    is held out of training entirely (ranked only among themselves), as
    `eval.baselines` and the data config ask; then, with `ranking.enabled`,
    the rating stage (`tfllmrec.tasks.rating`) and its baselines.
    """

    name = "retrieval"

    def prepare(self):
        config = self.config
        self.dataset = dataset = load_dataset(config.data)
        self.users = np.unique(np.asarray(dataset.interactions.frame["user_id"], dtype=str))
        self.index = IndexedSplit(make_split(config.data, dataset), dataset.items, users=self.users)
        self._cold = None
        # Every split the phases will use is made and checked now, before any
        # text is encoded or model trained: too little data fails first.
        check_retrieval_split(config.data, dataset, self.index)
        if config.data.cold_start_fraction > 0:
            check_retrieval_split(config.data, dataset, self.cold, cold=True)
        check_rating_stage(config.ranking, self.index, dataset)
        if sequential_phases(config.eval.baselines):
            check_held_out_users(config.sequence.held_out_users, self.index.num_users, "sequence.held_out_users")
            if config.sequence.period_days:
                self.index.num_periods(config.sequence.period_days)  # fails now if the data has no timestamps
        if (config.model.use_text or (config.ranking.enabled and config.ranking.use_text)
                or needs_text(config.eval.baselines)):
            self.text_table = text_table_of(config.model, dataset.items.texts())
        self.profile_table = None
        if config.ranking.enabled and config.ranking.objective == "rating" and config.ranking.user_profile:
            self.profile_table = user_profile_table(config.model, dataset.users, self.index.user_ids)
        # The sampled protocol the data ships (e.g. 99 negatives per test user),
        # so published numbers on it can be compared; only on the main split.
        self.sampled = None
        if dataset.negatives and "test" in dataset.negatives and config.data.split == "predefined":
            self.sampled = sampled_targets(self.index, dataset.negatives["test"])

    @property
    def cold(self):
        """The cold-start split's IndexedSplit, made on first use."""
        if self._cold is None:
            data = self.config.data
            try:
                split = cold_start_split(self.dataset.interactions, item_fraction=data.cold_start_fraction,
                                         seed=data.split_seed, ratios=data.ratios)
            except DataError as error:  # name the config key, and the other way out
                message = str(error).replace("item_fraction", "data.cold_start_fraction")
                raise DataError(f"{message} Or set it to 0 (no cold-start evaluation), or add items.") from None
            self._cold = IndexedSplit(split, self.dataset.items, users=self.users)
        return self._cold

    def phases(self):
        ranking = self.config.ranking
        if ranking.enabled and ranking.objective == "rerank":
            return self._retrieval_phases() + rerank_phases(ranking)
        return self._retrieval_phases() + rating_phases(ranking)

    def _retrieval_phases(self):
        baselines = self.config.eval.baselines
        main = [Phase("main", "ours", "two_tower", workdir="main")]
        if "popularity" in baselines:
            main.append(Phase("popularity", "most popular items in training", "popularity"))
        if "id_two_tower" in baselines:
            main.append(Phase("id_two_tower", "ID-only baseline", "two_tower", "baseline_model",
                              "baseline_train", workdir="id_two_tower"))
        sequential = sequential_phases(baselines)
        if not self.config.data.cold_start_fraction > 0:
            return main + sequential
        held_out = f"{self.config.data.cold_start_fraction:.0%} of items held out of training"
        cold = [Phase(f"cold_start_{p.name}" if p.name != "main" else "cold_start",
                      f"{p.title}, {held_out}", p.kind, p.model, p.train,
                      workdir=p.workdir and f"cold_start/{'ours' if p.name == 'main' else p.name}",
                      cold=True) for p in main]
        return main + sequential + cold

    def _two_tower(self, model_config, index):
        """A `TwoTowerRetrieval` of `model_config`, its state set from `index`'s training part."""
        days = model_config.period_days
        model = build_two_tower(model_config, index.num_users, index.num_items, self.text_dim,
                                index.num_periods(days) if days else 0)
        model.set_training_data(index.item_counts(), index.per_user("train"), self.text_table,
                                index.latest_periods(days, "valid") if days else None)
        return model

    def _run_two_tower(self, phase, workdir):
        index = self.cold if phase.cold else self.index
        model_config, train = getattr(self.config, phase.model), getattr(self.config, phase.train)
        ks = tuple(self.config.eval.ks)
        with training_scope(train):
            model = self.attach_text_inputs(self._two_tower(model_config, index))
            days = model.period_days
            periods = index.periods(days, "train") if model.num_periods else None
            targets = index.targets("valid", ["train"])
            fit = train_model(
                model, lambda epoch: epoch_dataset(index.train_users, index.train_items, train.batch_size,
                                                   train.seed, epoch, periods),
                {"user": tf.constant([0]), "item": tf.constant([0])}, train,
                lambda: evaluate_retrieval(model, targets, ks), _checked_monitor(self.config.eval),
                workdir, self.verbose)
        result = {"test": evaluate_on_test(model, index, ks, cold=phase.cold), "training": fit}
        return self._with_sampled(result, model) if not phase.cold else result

    def _run_sequential(self, phase, workdir):
        index, ks = self.index, tuple(self.config.eval.ks)
        targets = {"valid": index.targets("valid", ["train"]), "test": index.targets("test", ["train", "valid"])}
        model, result, held = train_sequential(
            self.config, phase.name, index, self.text_table, workdir, self.verbose,
            lambda model, part, held: evaluate_retrieval(model, without_users(targets[part], held), ks),
            self.attach_text_inputs)
        return self._with_sampled(result, model, users_left_out=held)

    def _with_sampled(self, result, model, users_left_out=None):
        """`result` with the shipped sampled protocol's test metrics of `model.score`, where the data
        has one; without the rows of users for whom `users_left_out` is True."""
        if self.sampled is not None:
            result["test_sampled"] = self._sampled(lambda users: model.score(tf.constant(users, tf.int32)).numpy(),
                                                   users_left_out)
        return result

    def _rating_text_table(self):
        return self.text_table if self.config.ranking.use_text else None

    def _run_rating(self, phase, workdir):
        return train_rating_model(self.config.ranking, self.index, self._rating_text_table(), workdir, self.verbose,
                                  self.profile_table)

    def _run_rating_new_users(self, phase, workdir):
        return train_for_new_users(self.config.ranking, self.index, self._rating_text_table(), workdir, self.verbose,
                                   self.profile_table, self.config.data.split_seed)

    def _run_rerank(self, phase, workdir):
        retrieval = with_main_phase_weights(self._two_tower(self.config.model, self.index), workdir)
        second = None
        if self.config.ranking.second_retrieval:
            second = with_main_phase_weights(self._two_tower(self.config.baseline_model, self.index), workdir,
                                             phase=self.config.ranking.second_retrieval)
        table = self.ranking_text_table(retrieval)
        reranker, fit = train_reranker(self.config, self.index, retrieval, table, workdir, self.verbose, second)
        ask_at_test_time(retrieval, self.index)
        if second is not None:
            ask_at_test_time(second, self.index)
        reranker.follow(retrieval, self.index.per_user("train", "valid"), second)
        test = two_stage_evaluator(retrieval, self.index.targets("test", ["train", "valid"]),
                                   tuple(self.config.eval.ks), self.config.ranking.candidates)
        result = {"test": test(reranker), "training": fit}
        if self.sampled is not None:
            # The shipped candidates are the shortlist: the reranker orders all of them.
            result["test_sampled"] = self._sampled_pairs(lambda users, items: reranker.score_candidates(
                tf.constant(users, tf.int32), tf.constant(items, tf.int32)).numpy())
        return result

    def _run_surprise(self, phase, workdir):
        return run_surprise(phase.name[len("ranking_"):], self.index, self.config.ranking.train.seed)

    def _run_popularity(self, phase, workdir):
        index, seed = (self.cold if phase.cold else self.index), self.config.train.seed
        users, positives, exclude = index.targets("test", ["train", "valid"])
        candidates = index.cold_items if phase.cold else None
        result = {"test": RankingEvaluator(ks=tuple(self.config.eval.ks)).evaluate(
            _popularity_scorer(index, seed), users, positives, exclude, candidates)}
        if self.sampled is not None and not phase.cold:
            result["test_sampled"] = self._sampled(_popularity_scorer(index, seed))
        return result

    def _sampled(self, score_users, users_left_out=None):
        """HR@K/NDCG@K of full-catalogue scores restricted to the shipped candidates."""
        return self._sampled_pairs(lambda users, items: np.take_along_axis(score_users(users), items, axis=1),
                                   users_left_out)

    def _sampled_pairs(self, score_pairs, users_left_out=None):
        """HR@K/NDCG@K of `score_pairs(users [b], items [b, n])` on the shipped candidates."""
        users, positives, negatives = self.sampled
        if users_left_out is not None:
            kept = ~users_left_out[users]
            users, positives, negatives = users[kept], positives[kept], negatives[kept]
        return SampledEvaluator().evaluate(score_pairs, users, positives, negatives, ks=tuple(self.config.eval.ks))

    def metrics(self, results):
        config, main = self.config, results["main"]
        metrics = {"recipe": config.name, "split_seed": config.data.split_seed, "seed": config.train.seed,
                   "test": main["test"], "training": main["training"], "baselines": {}}
        if "test_sampled" in main:
            metrics["test_sampled"] = main["test_sampled"]
        baselines = metrics["baselines"]
        for name in ("popularity", "id_two_tower", *VARIANTS):
            if name in results:
                baselines[name] = dict(results[name])
                if f"cold_start_{name}" in results:
                    baselines[name]["cold_start"] = results[f"cold_start_{name}"]["test"]
        if "cold_start" in results:
            metrics["cold_start"] = dict(results["cold_start"]["test"], cold_items=int(len(self.cold.cold_items)))
        if rating_metrics_of(results):
            metrics["ranking"] = rating_metrics_of(results)
        return metrics

    def artifacts(self):
        index, days = self.index, self.config.model.period_days
        periods = (index.num_periods(days), index.period_range()) if days else None
        return dict(user_ids=index.user_ids, item_ids=index.item_ids, texts=self.dataset.items.texts(),
                    seen=index.per_user("train", "valid", "test"), periods=periods)

    def evaluate_run(self, run):
        """Test metrics of a `TrainedRun`, recomputed from the data (re-split with the run's seed)."""
        self.dataset = dataset = load_dataset(self.config.data)
        index = IndexedSplit(make_split(self.config.data, dataset), dataset.items, users=run.user_ids)
        check_retrieval_split(self.config.data, dataset, index)
        if not np.array_equal(index.item_ids, run.item_ids[:run.num_catalogue_items]):
            raise ConfigError(f"The data behind {run.run_dir} changed since training (the item "
                              "catalogue differs); retrain the run.")
        days = self.config.model.period_days
        if days and (index.num_periods(days), list(index.period_range())) != (run.num_periods, run.period_range):
            raise ConfigError(f"The data behind {run.run_dir} changed since training (its training "
                              "timestamps span other time periods); retrain the run.")
        return evaluate_on_test(run.model, index, tuple(self.config.eval.ks))

    @staticmethod
    def summary_lines(metrics, ks):
        """Recall, NDCG and cold-start recall of ours and the baselines, for the CLI."""
        k = 10 if 10 in ks else ks[0]
        rows = [("ours", metrics.get("test"), metrics.get("cold_start"))]
        rows += [(name, b.get("test"), b.get("cold_start")) for name, b in metrics.get("baselines", {}).items()]
        lines = [f"{'model':14s} {f'Recall@{k}':>10s} {f'NDCG@{k}':>10s} {f'cold R@{k}':>10s}"]
        for name, test, cold in rows:
            cold_recall = f"{cold[f'recall@{k}']:.4f}" if cold else "-"
            lines.append(f"{name:14s} {test[f'recall@{k}']:10.4f} {test[f'ndcg@{k}']:10.4f} {cold_recall:>10s}")
        lines += new_user_lines(metrics, k)
        if "ranking" in metrics:
            lines += [""] + (rating_summary_lines(metrics["ranking"]) or two_stage_lines(metrics, k))
        return lines


def _checked_monitor(eval_config):
    monitor = eval_config.monitor
    keys = RankingEvaluator(ks=tuple(eval_config.ks)).keys()
    if monitor not in keys:
        raise ValueError(f"monitor={monitor!r} is not one of {keys}.")
    return monitor


def _popularity_scorer(index, seed):
    popularity = Popularity().fit(index.train_items, index.num_items)
    # Seeded noise below one count breaks ties at random: the evaluator would
    # break them by item index, and MovieLens numbers its popular films first.
    noise = np.random.default_rng(seed).uniform(0, 0.5, index.num_items).astype(np.float32)

    def score(users):
        return popularity.score(users) + noise

    return score
