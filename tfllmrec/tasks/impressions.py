"""`ImpressionTask`: news clicks within impressions, MIND's per-impression metrics."""

import dataclasses

import numpy as np
import tensorflow as tf

from tfllmrec.data import impression_split, load_dataset
from tfllmrec.errors import ConfigError
from tfllmrec.models import NRMS
from tfllmrec.models.impression_loss import ctr_prior_scores
from tfllmrec.tasks.impression_rerank import impression_rerank_phases, train_impression_reranker
from tfllmrec.tasks.indexed_impressions import IndexedImpressions
from tfllmrec.tasks.phase import Phase
from tfllmrec.tasks.protocol_checks import check_impressions
from tfllmrec.tasks.sequential import VARIANTS, build_sequential, sequential_phases
from tfllmrec.tasks.task import Task, build_two_tower, query_vectors, text_table_of, with_main_phase_weights
from tfllmrec.training import train_model, training_scope

# Negatives per click in training (NRMS's npratio; NeMig shows 5 at most).
NEGATIVES = 4
# The NRMS-style baseline, tuned as ours was (zoo/news/README.md); its
# schedule is `baseline_train` with this learning rate.
NRMS_SETTINGS = {"news_dim": 64, "num_heads": 8, "attention_hidden_dim": 128, "dropout": 0.2,
                 "learning_rate": 1e-3}


def uneven_batches(features, num_batches):
    """`features` (arrays of one length) cut into `num_batches` consecutive batches
    whose sizes differ by at most one, as `np.array_split` cuts: every example
    lands in a batch and no batch is a small remainder."""
    size = len(next(iter(features.values())))
    small, larger = divmod(size, num_batches)
    data = tf.data.Dataset.from_tensor_slices({k: tf.constant(v, tf.int32) for k, v in features.items()})
    batches = data.take(larger * (small + 1)).batch(small + 1)
    if small:
        batches = batches.concatenate(data.skip(larger * (small + 1)).batch(small))
    return batches


class ImpressionTask(Task):
    """News: per-impression candidates, trained and ranked as MIND's leaderboard does.

    Impressions are split at random (`impression_split`); every model learns
    from the clicks of the training impressions against each impression's
    non-clicked candidates (`impression_softmax_loss`), the best epoch is
    picked on validation AUC, and each model scores the candidates of every
    test impression (per-impression AUC, MRR and nDCG@K). `model.loss` and
    `model.logq_correction` play no part. Phases: ours (`TwoTowerRetrieval`,
    the user being the pooled text of their click history), popularity,
    the click-through-rate prior alone, the ID-only two-tower, an
    NRMS-style user encoder over the same frozen text vectors, and the
    sequential models (`SequentialRetrieval`, "sasrec_*") over each user's
    history.
    """

    name = "impressions"

    def prepare(self):
        config = self.config
        self.dataset = dataset = load_dataset(config.data)
        self.data = self._index(dataset)
        check_impressions(config.data, dataset, self.data)  # before any text is encoded
        if (config.model.use_text or config.baseline_model.use_text or "nrms" in config.eval.baselines
                or (config.ranking.enabled and config.ranking.use_text)):
            self.text_table = text_table_of(config.model, dataset.items.texts())

    def _index(self, dataset):
        # NeMig's authors leave out impressions without a history; MIND's leaderboard keeps them.
        data = self.config.data
        split = impression_split(dataset, data.ratios, data.split_seed, drop_empty_history=data.dataset == "nemig")
        return IndexedImpressions(dataset, split)

    def phases(self):
        wanted = self.config.eval.baselines
        ranking = impression_rerank_phases(self.config.ranking) if self.config.ranking.enabled else []
        return [phase for phase in (
            Phase("main", "ours", "two_tower", workdir="main"),
            Phase("popularity", "clicks in the training impressions", "popularity"),
            Phase("ctr", "click-through-rate prior alone", "ctr"),
            Phase("id_two_tower", "ID-only baseline", "two_tower", "baseline_model", "baseline_train",
                  workdir="id_two_tower"),
            Phase("nrms", "NRMS-style user encoder over the frozen text", "nrms", train="baseline_train",
                  workdir="nrms"),
        ) if phase.name == "main" or phase.name in wanted] + sequential_phases(wanted) + ranking

    def _fit_and_test(self, build, train, workdir, offsets=None):
        """Trains `build()` on the training impressions; `offsets` `[num_items]`: added to its scores
        (None: the model's own `offsets()`)."""
        data, ks = self.data, tuple(self.config.eval.ks)
        # `prepare` checked that some training impression has a click and a non-click.
        users, candidates = data.examples(NEGATIVES, train.seed, 0)
        with training_scope(train):
            model = build()

            def evaluate(part):
                return data.evaluate(part, query_vectors(model, data.num_users), model.candidates().numpy(),
                                     ks, score_offset=model.offsets() if offsets is None else offsets)

            def epoch_data(epoch):
                users, candidates = data.examples(NEGATIVES, train.seed, epoch)
                order = np.random.default_rng([train.seed, epoch, 1]).permutation(len(users))
                return uneven_batches({"user": users[order], "candidates": candidates[order]},
                                      max(1, -(-len(order) // train.batch_size)))

            sample = {"user": tf.constant(users[:2], tf.int32), "candidates": tf.constant(candidates[:2], tf.int32)}
            fit = train_model(model, epoch_data, sample, train, lambda: evaluate("valid"),
                              self.config.eval.monitor, workdir, self.verbose)
            return {"test": evaluate("test"), "training": fit}

    def _two_tower(self, model_config):
        """A `TwoTowerRetrieval` of `model_config`, its state set from the training impressions."""
        data = self.data
        model = build_two_tower(model_config, data.num_users, data.num_items, self.text_dim)
        model.set_training_data(data.trained_items(), data.histories,
                                self.text_table if model_config.use_text else None)
        if model_config.ctr_prior_weight:
            model.set_ctr_prior(*data.log_ctr_prior(model_config.ctr_prior_strength))
        return model

    def _run_two_tower(self, phase, workdir):
        model_config = getattr(self.config, phase.model)
        return self._fit_and_test(lambda: self.attach_text_inputs(self._two_tower(model_config)),
                                  getattr(self.config, phase.train), workdir)

    def _run_rerank(self, phase, workdir):
        retrieval = with_main_phase_weights(self._two_tower(self.config.model), workdir)
        table = self.ranking_text_table(retrieval)
        return train_impression_reranker(self.config, self.data, retrieval, table, workdir, self.verbose)

    def _run_nrms(self, phase, workdir):
        settings = dict(NRMS_SETTINGS)
        train = dataclasses.replace(getattr(self.config, phase.train), learning_rate=settings.pop("learning_rate"))
        data = self.data

        def build():
            # Self-attention costs the square of the padded length: no longer than needed.
            longest = max(map(len, data.histories), default=1)
            model = NRMS(data.num_users, data.num_items, self.text_dim,
                         max_history=max(1, min(self.config.model.max_history, longest)), **settings)
            model.set_data(self.text_table, data.histories)
            return model

        return dict(self._fit_and_test(build, train, workdir), settings=NRMS_SETTINGS)

    def _run_sequential(self, phase, workdir):
        """A `SequentialRetrieval` over each user's history, trained on the impressions as ours is,
        its scores plus ours' click-through-rate prior (`model.ctr_prior_weight`), so it is measured
        as ours is against the prior alone."""
        data, config = self.data, self.config

        def build():
            model = build_sequential(config, phase.name, data.num_users, data.num_items, self.text_dim)
            model.set_training_data(data.trained_items(), data.histories, self.text_table)
            return model

        weight = config.model.ctr_prior_weight
        prior = ctr_prior_scores(data.log_ctr_prior(config.model.ctr_prior_strength)[0], weight,
                                 config.sequence.temperature) if weight else np.zeros(data.num_items)
        return dict(self._fit_and_test(build, config.sequence.train, workdir, offsets=prior),
                    ctr_prior_weight=weight)

    def _run_popularity(self, phase, workdir):
        # Noise below one click breaks ties (most candidates have few clicks) at random.
        return self._rank_by(self.data.click_counts("train"), tie_noise=0.5)

    def _run_ctr(self, phase, workdir):
        log_rate, _ = self.data.log_ctr_prior(self.config.model.ctr_prior_strength)
        return dict(self._rank_by(log_rate), strength=self.config.model.ctr_prior_strength)

    def _rank_by(self, item_scores, tie_noise=1e-6):
        """MIND's metrics of ranking every impression by a fixed score per item,
        ties broken at random (seeded noise up to `tie_noise`)."""
        data, ks = self.data, tuple(self.config.eval.ks)
        noise = np.random.default_rng(self.config.train.seed).uniform(0, tie_noise, data.num_items)
        zeros_u, zeros_i = np.zeros((data.num_users, 1)), np.zeros((data.num_items, 1))
        return {part: data.evaluate(part, zeros_u, zeros_i, ks, score_offset=item_scores + noise)
                for part in ("valid", "test")}

    def metrics(self, results):
        config, main = self.config, results["main"]
        metrics = {"recipe": config.name, "split_seed": config.data.split_seed, "seed": config.train.seed,
                   "test": main["test"], "valid": main["training"]["valid"], "training": main["training"],
                   "baselines": {name: results[name] for name in ("popularity", "ctr", "id_two_tower", "nrms",
                                                                   *VARIANTS) if name in results}}
        if "ranking" in results:
            metrics["ranking"] = results["ranking"]
        metrics["split"] = {name: int(self.data.parts[name].size) for name in ("train", "valid", "test")}
        metrics["split"]["dropped_empty_history"] = int(self.data.dropped_empty_history)
        return metrics

    def artifacts(self):
        # Each user's history, then every news they clicked.
        data = self.data
        return dict(user_ids=data.user_ids, item_ids=data.item_ids, texts=self.dataset.items.texts(),
                    seen=data.seen(), periods=None)

    def evaluate_run(self, run):
        """Test metrics of a `TrainedRun`, recomputed from the data, with the
        training histories (not `seen.json`), as training scored."""
        self.dataset = load_dataset(self.config.data)
        data = self._index(self.dataset)
        if not (np.array_equal(data.item_ids, run.item_ids) and np.array_equal(data.user_ids, run.user_ids)):
            raise ConfigError(f"The data behind {run.run_dir} changed since training; retrain the run.")
        model = run.model
        if model.max_history:
            model.user_tower.set_history(data.histories)
        return data.evaluate("test", query_vectors(model, data.num_users), model.candidates().numpy(),
                             tuple(self.config.eval.ks), score_offset=model.offsets())

    @staticmethod
    def summary_lines(metrics, ks):
        """A table of AUC, MRR and nDCG of ours and the baselines, for the CLI."""
        shown = [k for k in ks if k in (5, 10)] or list(ks)
        ndcg = [f"ndcg@{k}" for k in shown if f"ndcg@{k}" in metrics["test"]]
        lines = [f"{'model':14s} {'AUC':>8s} {'MRR':>8s} " + " ".join(f"{n.upper():>8s}" for n in ndcg)]
        rows = [("ours", metrics["test"])] + [(n, b["test"]) for n, b in metrics["baselines"].items()]
        if "ranking" in metrics:
            rows.append(("ours, reranked", metrics["ranking"]["test"]))
        for name, test in rows:
            values = [test["auc"], test["mrr"]] + [test[n] for n in ndcg]
            lines.append(f"{name:14s} " + " ".join(f"{v:8.4f}" for v in values))
        return lines
