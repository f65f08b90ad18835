"""Training throughput of the `video` recipe's step with the item text encoded in the step.

The model is the video recipe's (MovieLens-100K): user-id tower; item tower
= item-id embedding (id dropout 0.3) + 2-layer MLP of the item's MiniLM
embedding, summed and L2-normalised; temperature 0.2; built from the
library's pieces (`tfllmrec.towers.UserTower`/`ItemTower`,
`tfllmrec.encoders.TextEncoder`). Where the recipe reads a table of frozen
text embeddings, the variants here run `TextEncoder` inside the training
step, so BERT can fine-tune. The loss is TFRS' in-batch softmax with logQ
correction (`tfrs.tasks.Retrieval`): with BERT in the step, a full softmax
would re-encode the whole catalogue every step.

Variants (batch 1024 by default; the same batches for all):
- `recipe`: the recipe's own step (`TwoTowerRetrieval`, full softmax,
  cached embeddings), for reference.
- `none+cache`: mode "none", embeddings cached in a table, in-batch softmax.
- `M/naive` (a): `TextEncoder(trainable=M)` on every interaction's text.
- `M/dedup` (b): the same layer with `deduplicate=True`: BERT runs once per
  distinct text of the batch (`tf.unique`), results gathered back.
- `M/dedup+len4`: and `length_buckets=4`: the distinct texts sorted by
  token count, run as 4 chunks each padded to its own longest text.
- `top:N/states`: the frozen lower layers' outputs cached per item
  (`TextEncoder.frozen_states`); each step runs only the top N layers
  (`call_on_states`) on the batch's distinct items, 4 length chunks.
(a) and (b) compute the same loss and gradients (checked below).

Every variant runs `--rounds` rounds of `--steps` steps, interleaved (A B A
B ..., order rotating), and the table shows the median interactions/s.
Then, unless `--no-quality`, each fine-tuning mode trains for
`--quality-epochs` epochs (batch 1024, towers Adam 3e-3, BERT Adam 5e-5)
from the pretrained encoder and fresh towers, and Recall@10 / NDCG@10 on
the test split (full ranking, train and validation items excluded) joins
the table. Ends with

    RESULT train_speedup_dedup_vs_naive_batch1024 <(b) / (a), mode --ab-mode>

`--smoke`: the tiny random BERT, 2 steps a variant, 1 quality epoch on a
slice of the data, to check the script runs.

Usage:
    python benchmarks/train_throughput.py [--batch-size 1024] [--rounds 3]
        [--quality-epochs 2] [--no-quality] [--smoke]
"""

import argparse
import dataclasses
import gc
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

_common.quiet_tensorflow()

import tfllmrec  # noqa: E402,F401  (selects tf-keras before TensorFlow loads)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_recommenders as tfrs  # noqa: E402

from tfllmrec.towers import ItemTower, UserTower  # noqa: E402

TOWER_LR = 3e-3  # the video recipe's
ENCODER_LR = 5e-5  # BERT's usual fine-tuning rate


class TextTwoTower(tfrs.Model):
    """The video recipe's two towers with the item text embedded in the step.

    Args:
        num_users, num_items: int.
        encoder: TextEncoder or None (`text="table"`).
        item_texts: list of str, one per item index.
        text: "table" (cached embeddings), "texts" (the encoder on each
            interaction's text; its `deduplicate`/`length_buckets` decide
            how) or "states" (cached lower-layer states; the encoder's top
            layers run on the batch's distinct items).
        log_q: float array `[num_items]`, log sampling probabilities.
        table: float array `[num_items, dim]` for `text="table"`.
        states: `(states, mask)` from `encoder.frozen_states` for "states".
    """

    def __init__(self, num_users, num_items, encoder, item_texts, text, log_q,
                 table=None, states=None, text_dim=384, embedding_dim=128, id_dropout=0.3,
                 temperature=0.2):
        super().__init__()
        self.text = text
        self.encoder = encoder
        self.user_tower = UserTower(num_users, embedding_dim, name="user_tower")
        # The recipe's ItemTower reads its text from a table; here the text
        # vectors come from the step, so the id part and the text MLP are
        # two towers: ids (with id dropout) and text (MLP, table when cached).
        self.id_tower = ItemTower(num_items, embedding_dim, use_item_ids=True, id_dropout=id_dropout,
                                  normalize=False, name="item_ids")
        self.text_tower = ItemTower(num_items, embedding_dim, use_item_ids=False, text_dim=text_dim,
                                    normalize=False, name="item_text")
        if table is not None:
            self.text_tower.set_text_table(table)
        self.item_texts = tf.constant(list(item_texts), tf.string)
        self.states = None
        if states is not None:
            self.states = (tf.constant(states[0]), tf.constant(states[1]))
        self.log_q = tf.constant(log_q, tf.float32)
        self.task = tfrs.tasks.Retrieval(temperature=temperature, remove_accidental_hits=True)

    def text_embeddings(self, items, training=False):
        if self.text == "texts":
            return self.encoder(tf.gather(self.item_texts, items), training=training)
        unique, back = tf.unique(items)
        states, mask = (tf.gather(t, unique) for t in self.states)
        return tf.gather(self.encoder.call_on_states(states, mask, training=training), back)

    def candidates(self, items, training=False, text_embeddings=None):
        ids = self.id_tower.raw(items, training=training)
        if self.text == "table":
            text = self.text_tower.raw(items)
        else:
            if text_embeddings is None:
                text_embeddings = self.text_embeddings(items, training=training)
            text = self.text_tower.text_vectors(text_embeddings)
        return tf.math.l2_normalize(ids + text, -1)

    def compute_loss(self, features, training=False):
        users, items = features["user"], features["item"]
        query = self.user_tower(users)
        return self.task(query, self.candidates(items, training=training),
                         candidate_sampling_probability=tf.exp(tf.gather(self.log_q, items)),
                         candidate_ids=items, compute_metrics=False)

    def all_item_vectors(self, batch_size=256):
        """Every item's vector (inference), for full-ranking evaluation."""
        n = int(self.item_texts.shape[0])
        items = tf.range(n)
        if self.text == "table":
            return self.candidates(items)
        if self.text == "texts":
            texts = [t.decode() for t in self.item_texts.numpy()]
            embeddings = tf.constant(self.encoder.encode(texts))
        else:
            embeddings = tf.concat([
                self.encoder.call_on_states(self.states[0][i : i + batch_size],
                                            self.states[1][i : i + batch_size])
                for i in range(0, n, batch_size)], 0)
        return self.candidates(items, text_embeddings=embeddings)


def make_train_step(model):
    """One compiled step: two Adams, the towers' (3e-3) and BERT's (5e-5)."""
    encoder_ids = set()
    encoder_vars = []
    if model.encoder is not None and model.text != "table":
        encoder_vars = list(model.encoder.trainable_weights)
        encoder_ids = {id(v) for v in encoder_vars}
    # Build the towers (variables) before listing them.
    batch = {"user": tf.constant([0, 1]), "item": tf.constant([0, 1])}
    model.compute_loss(batch, training=False)
    tower_vars = [v for v in model.trainable_variables if id(v) not in encoder_ids]
    groups = [(tower_vars, tf.keras.optimizers.Adam(TOWER_LR))]
    if encoder_vars:
        groups.append((encoder_vars, tf.keras.optimizers.Adam(ENCODER_LR)))
    return _compiled_step(model, groups)


def _compiled_step(model, groups):
    """A `tf.function` training step of `model.compute_loss`; `groups` pairs
    each list of variables with the optimizer that updates it."""
    variables = [v for group, _ in groups for v in group]
    spec = {"user": tf.TensorSpec([None], tf.int32), "item": tf.TensorSpec([None], tf.int32)}

    @tf.function(input_signature=[spec])
    def step(batch):
        with tf.GradientTape() as tape:
            loss = model.compute_loss(batch, training=True)
        grads = tape.gradient(loss, variables)
        start = 0
        for group, optimizer in groups:
            optimizer.apply_gradients(zip(grads[start : start + len(group)], group))
            start += len(group)
        return loss

    return step


def make_recipe_step(index, table):
    """The video recipe's real step: `TwoTowerRetrieval`, full softmax, cached text."""
    from tfllmrec.models import TwoTowerRetrieval

    model = TwoTowerRetrieval(
        num_users=index.num_users, num_items=index.num_items, embedding_dim=128,
        text_dim=table.shape[1], text_hidden_dim=256, id_dropout=0.3, temperature=0.2,
        loss="full_softmax",
    )
    model.set_training_data(index.item_counts(), index.per_user("train"), table)
    model.compute_loss({"user": tf.constant([0]), "item": tf.constant([0])})
    return _compiled_step(model, [(model.trainable_variables, tf.keras.optimizers.Adam(TOWER_LR))])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=1, help="steps per variant per round")
    parser.add_argument("--ab-mode", default="all", help="trainable mode of the (a)/(b) rows")
    parser.add_argument("--variants", default="",
                        help="comma-separated subset of the variant names (default: all)")
    parser.add_argument("--quality-epochs", type=int, default=2)
    parser.add_argument("--quality-modes", default="none+cache,top:1/states,top:2/states,all/dedup+len4",
                        help="variants trained for Recall@10")
    parser.add_argument("--no-quality", action="store_true", help="throughput only")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--smoke", action="store_true",
                        help="tiny random BERT, small batches, 1 short epoch (checks the script)")
    return parser.parse_args(argv)


TEXT_OPTIONS = {"naive": {}, "dedup": {"deduplicate": True},
                "dedup+len4": {"deduplicate": True, "length_buckets": 4}}


@dataclasses.dataclass
class TrainData:
    """MovieLens-100K's split, its item texts, logQ and the training interactions (int32)."""

    index: object
    texts: list
    log_q: np.ndarray
    train_users: np.ndarray
    train_items: np.ndarray


def load_data(smoke):
    """The video recipe's data; `smoke` keeps 512 training interactions."""
    from tfllmrec.data import load_movielens_100k, random_split
    from tfllmrec.tasks import IndexedSplit

    dataset = load_movielens_100k(str(_common.movielens_path()))
    split = random_split(dataset.interactions, ratios=(0.8, 0.1, 0.1), seed=2020)
    index = IndexedSplit(split, dataset.items)
    texts = [str(t) for t in dataset.items.texts()]
    counts = index.item_counts()
    log_q = np.log(np.maximum(counts, 1) / counts.sum()).astype("float32")
    train_users = index.train_users.astype("int32")
    train_items = index.train_items.astype("int32")
    if smoke:
        train_users, train_items = train_users[:512], train_items[:512]
    return TrainData(index, texts, log_q, train_users, train_items)


class VariantBuilder:
    """Builds a variant's train step from its name.

    The embedding table and the frozen lower-layer states are shared by the
    throughput and the quality runs, so each is computed once; their times
    are reported apart as one-off costs.
    """

    def __init__(self, data, preset):
        self.data = data
        self.preset = preset
        frozen = self.encoder("none")
        start = time.perf_counter()
        self.table = frozen.encode(data.texts)
        self.table_seconds = time.perf_counter() - start
        self.states_seconds = {}
        self._states = {}

    def encoder(self, mode, **options):
        from tfllmrec.encoders import TextEncoder

        return TextEncoder.from_preset(self.preset, sequence_length=64, trainable=mode, **options)

    def states_for(self, mode):
        if mode not in self._states:
            start = time.perf_counter()
            self._states[mode] = self.encoder(mode).frozen_states(self.data.texts)
            self.states_seconds[mode] = time.perf_counter() - start
        return self._states[mode]

    def model(self, enc, text, **options):
        data = self.data
        return TextTwoTower(data.index.num_users, data.index.num_items, enc, data.texts, text,
                            data.log_q, **options)

    def build(self, variant):
        """(train step, model or None) of a variant name."""
        if variant == "recipe":
            return make_recipe_step(self.data.index, self.table), None
        if variant == "none+cache":
            model = self.model(None, "table", table=self.table, text_dim=self.table.shape[1])
            return make_train_step(model), model
        mode, _, how = variant.partition("/")
        if how == "states":
            enc = self.encoder(mode, length_buckets=4)
            model = self.model(enc, "states", states=self.states_for(mode), text_dim=enc.embedding_dim)
        else:
            enc = self.encoder(mode, **TEXT_OPTIONS[how])
            model = self.model(enc, "texts", text_dim=enc.embedding_dim)
        return make_train_step(model), model


def apply_smoke(args):
    """The encoder preset; `--smoke` also shrinks `args` to a few small steps."""
    if not args.smoke:
        return "all-minilm-l6-v2"
    args.batch_size, args.rounds, args.steps = min(args.batch_size, 64), 1, 2
    args.quality_epochs = min(args.quality_epochs, 1)
    args.variants = args.variants or "recipe,none+cache,all/naive,all/dedup,top:1/states"
    args.quality_modes = "top:1/states"
    return "tiny-random"


def variant_names(args):
    if args.variants:
        return [n.strip() for n in args.variants.split(",") if n.strip()]
    ab = args.ab_mode
    return ["recipe", "none+cache", f"{ab}/naive", f"{ab}/dedup", f"{ab}/dedup+len4",
            "top:2/dedup+len4", "top:1/dedup+len4", "top:2/states", "top:1/states"]


def shuffled_batches(data, batch_size):
    """Full batches of one shuffle, the same for every variant."""
    order = np.random.default_rng(0).permutation(len(data.train_users))
    return [
        {"user": tf.constant(data.train_users[order[i : i + batch_size]]),
         "item": tf.constant(data.train_items[order[i : i + batch_size]])}
        for i in range(0, len(order) - batch_size + 1, batch_size)
    ]


def same_loss_check(builder, names, ab, batch):
    """(a) and (b) are the same function of the weights: same loss on a batch.

    Returns the line to print, or "" when (a) or (b) is not measured.
    """
    if f"{ab}/naive" not in names or f"{ab}/dedup" not in names:
        return ""
    enc = builder.encoder(ab)
    model = builder.model(enc, "texts", text_dim=enc.embedding_dim)
    losses = []
    for dedup in (False, True):
        enc.deduplicate = dedup
        losses.append(float(model.compute_loss(batch, training=False)))
    return f"(a)/(b) loss on one batch: {losses[0]:.5f} / {losses[1]:.5f}"


def measure_throughput(builder, names, batches, args):
    """(name -> interactions/s per round, name -> seconds of the first, tracing step)."""
    steps, models, first = {}, {}, {}
    for name in names:
        steps[name], models[name] = builder.build(name)
        start = time.perf_counter()
        steps[name](batches[0])  # traces
        first[name] = time.perf_counter() - start

    def timed(name):
        def run(r):
            if r < 0:
                return 0
            for s in range(args.steps):
                steps[name](batches[(r * args.steps + s + 1) % len(batches)]).numpy()
            return args.steps * args.batch_size
        return run

    rates = _common.interleaved({n: timed(n) for n in names}, args.rounds, warmup=False)
    steps.clear()
    models.clear()  # each holds a BERT, its optimizer and its graphs: GBs in all
    gc.collect()
    return rates, first


def train_epochs(step, data, epochs, batch_size):
    """Seconds taken to train `epochs` epochs, each in its own seeded order."""
    start = time.perf_counter()
    for epoch in range(epochs):
        perm = np.random.default_rng(100 + epoch).permutation(len(data.train_users))
        for i in range(0, len(perm), batch_size):
            rows = perm[i : i + batch_size]
            step({"user": tf.constant(data.train_users[rows]), "item": tf.constant(data.train_items[rows])})
    return time.perf_counter() - start


def ranking_metrics(model, users, positives, exclude):
    """(Recall@10, NDCG@10) ranking every item for each test user."""
    from tfllmrec.evaluation import RankingEvaluator

    item_vectors = model.all_item_vectors()

    def score(batch):
        query = model.user_tower(tf.constant(batch, tf.int32))
        return tf.matmul(query, item_vectors, transpose_b=True).numpy()

    metrics = RankingEvaluator(ks=(10,), metrics=("recall", "ndcg")).evaluate(
        score, users, positives, exclude)
    return metrics["recall@10"], metrics["ndcg@10"]


def train_for_quality(builder, data, args):
    """name -> (Recall@10, NDCG@10, training seconds) of each `--quality-modes` variant.

    Each starts from the same seed: the pretrained encoder and fresh towers.
    """
    quality = {}
    users, positives, exclude = data.index.targets("test", ["train", "valid"])
    for name in [q.strip() for q in args.quality_modes.split(",") if q.strip()]:
        tf.keras.utils.set_random_seed(42)
        step, model = builder.build(name)
        seconds = train_epochs(step, data, args.quality_epochs, args.batch_size)
        recall, ndcg = ranking_metrics(model, users, positives, exclude)
        quality[name] = (recall, ndcg, seconds)
        print(f"quality {name}: {args.quality_epochs} epochs in {seconds:.0f} s, "
              f"Recall@10 {recall:.4f}", flush=True)
    return quality


def print_caption(args, preset, data, batches, builder):
    distinct = np.mean([len(np.unique(b["item"].numpy())) for b in batches])
    print(f"Video recipe training step, MovieLens-100K ({len(data.train_users)} training interactions), "
          f"batch {args.batch_size} ({distinct:.0f} distinct items per batch on average), "
          f"encoder {preset} (sequence_length 64), {args.threads} threads, "
          f"{args.rounds} interleaved rounds of {args.steps} step(s)")
    print(f"Machine: {_common.machine()}; {_common.versions('tensorflow', 'keras', 'keras_hub')}")
    caches = [f"embedding table {builder.table_seconds:.1f} s"] + [
        f"{m} states {s:.1f} s" for m, s in builder.states_seconds.items()]
    print("One-off caches: " + ", ".join(caches))


def print_results(args, names, rates, first, quality):
    """The table, then the RESULT line."""
    ab = args.ab_mode
    naive = f"{ab}/naive"
    rows = []
    for name in names:
        vs = f"{_common.ratio(rates, name, naive):.2f}x" if naive in rates else "-"
        q = quality.get(name)
        rows.append([name, f"{_common.median(rates[name]):.0f}", vs, f"{first[name]:.1f}",
                     f"{q[0]:.4f}" if q else "-", f"{q[1]:.4f}" if q else "-",
                     f"{q[2]:.0f}" if q else "-"])
    _common.print_table(
        ["variant", "interactions/s (median)", f"vs {naive}", "first step s (trace)",
         f"Recall@10 ({args.quality_epochs} ep)", f"NDCG@10 ({args.quality_epochs} ep)",
         "train s"],
        rows,
    )
    if naive in rates and f"{ab}/dedup" in rates:
        print(f"RESULT train_speedup_dedup_vs_naive_batch{args.batch_size} "
              f"{_common.ratio(rates, f'{ab}/dedup', naive):.3f}")
    else:
        print(f"RESULT train_interactions_per_s {_common.median(rates[names[0]]):.1f}")


def main(argv=None):
    args = parse_args(argv)
    _common.set_threads(args.threads)
    tf.get_logger().setLevel("ERROR")  # one tf.function per variant reads as "retracing"
    preset = apply_smoke(args)
    tf.keras.utils.set_random_seed(42)
    data = load_data(args.smoke)
    builder = VariantBuilder(data, preset)
    names = variant_names(args)
    batches = shuffled_batches(data, args.batch_size)
    check = same_loss_check(builder, names, args.ab_mode, batches[0])
    rates, first = measure_throughput(builder, names, batches, args)
    quality = {} if args.no_quality else train_for_quality(builder, data, args)
    print_caption(args, preset, data, batches, builder)
    if check:
        print(check)
    print_results(args, names, rates, first, quality)


if __name__ == "__main__":
    main()
