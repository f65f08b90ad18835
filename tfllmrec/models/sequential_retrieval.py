"""`SequentialRetrieval`: SASRec-style retrieval, the user being the items they just had."""

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfllmrec.models.encoder_fine_tuning import EncoderFineTuningMixin
from tfllmrec.towers import ItemTower, SequenceQueryTower


class SequentialRetrieval(EncoderFineTuningMixin, tfrs.Model):
    """A causal transformer over a user's latest items, scored against every item.

    The item tower (`ItemTower`: item ids, frozen text through an MLP, or
    both) gives each item one vector, used twice: as an input of the
    `SequenceQueryTower` and as a candidate. Trained as SASRec trains: a
    user's training sequence, the next item the target at every position,
    with a full softmax over the items seen in training. A user is their
    history, so with `use_item_ids=False` nothing is learned per id: an item
    is its text and a user what they did (the ID-free mode).

    Features: `{"sequence": int [batch, max_length + 1]}`, item indices
    oldest first, -1 padding. `set_history` stores each user's latest items
    for `query` and `score` (evaluation, serving).

    Args:
        num_users: int. Users whose histories `query` reads.
        num_items: int. Catalogue size.
        text_dim: int or None. Item text embedding size; None: ids only.
        embedding_dim: int. Item vector and transformer width.
        use_item_ids: bool. Item-id embeddings (False: ID-free).
        text_hidden_dim: int. Hidden units of the text MLP; 0: linear.
        id_dropout: float. Probability of zeroing an item's id vector in
            training (with ids and text), so that its text carries it.
        max_length: int. Latest items a query reads.
        num_layers: int. Transformer blocks.
        num_heads: int. Attention heads (dividing `embedding_dim`).
        dropout: float. Dropout in the query tower.
        temperature: float. Softmax temperature of the cosine scores.
        encoder, sequence_length: str, int. The item texts' `TextEncoder`
            preset and tokens per text, used when the encoder fine-tunes.
        trainable: str. "none" (the text table stays frozen), "top:N" or
            "all": the encoder is a live layer of the item tower, trained
            with its own optimizer, as in `TwoTowerRetrieval`.
        fine_tune_items: int. Items a step re-embeds with gradients (0: all).

    Example:
    >>> model = SequentialRetrieval(num_users=3, num_items=6, embedding_dim=8, max_length=4)
    >>> model.set_training_data(np.ones(6), [[0, 1], [2], []])
    >>> model.compute_loss({"sequence": tf.constant([[-1, -1, 0, 1, 2]])}).shape
    TensorShape([])
    >>> model.score(tf.constant([0, 2])).shape
    TensorShape([2, 6])
    """

    def __init__(self, num_users, num_items, text_dim=None, embedding_dim=64, use_item_ids=True, text_hidden_dim=256,
                 id_dropout=0.0, max_length=50, num_layers=2, num_heads=1, dropout=0.2, temperature=0.1,
                 encoder="all-minilm-l6-v2", sequence_length=64, trainable="none", fine_tune_items=64, **kwargs):
        super().__init__(**kwargs)
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.text_dim = None if not text_dim else int(text_dim)
        if not use_item_ids and not self.text_dim:
            raise ValueError("use_item_ids=False needs item text (text_dim): an item would be nothing. "
                             "Fix: keep the item ids, or give the items' text.")
        if not temperature > 0:
            raise ValueError(f"temperature={temperature}: it divides the scores; use a number > 0, e.g. 0.1.")
        self.options = dict(embedding_dim=int(embedding_dim), use_item_ids=bool(use_item_ids),
                            text_hidden_dim=int(text_hidden_dim), id_dropout=float(id_dropout),
                            max_length=int(max_length),
                            num_layers=int(num_layers), num_heads=int(num_heads), dropout=float(dropout),
                            temperature=float(temperature), encoder=str(encoder),
                            sequence_length=int(sequence_length), trainable=str(trainable),
                            fine_tune_items=int(fine_tune_items))
        self.max_length, self.temperature = self.options["max_length"], self.options["temperature"]
        self.item_tower = ItemTower(self.num_items, self.options["embedding_dim"], use_item_ids=use_item_ids,
                                    text_dim=self.text_dim, text_hidden_dim=self.options["text_hidden_dim"],
                                    id_dropout=self.options["id_dropout"] if use_item_ids and self.text_dim else 0.0,
                                    name="item_tower")
        self.live_text = self.build_live_text(self.options, bool(self.text_dim))
        if self.live_text is not None:
            self.item_tower.attach_live_text(self.live_text, self.options["fine_tune_items"])
        self.query_tower = SequenceQueryTower(self.options["embedding_dim"], max_length=self.max_length,
                                              num_layers=num_layers, num_heads=num_heads, dropout=dropout,
                                              name="query_tower")
        self.user_history = tf.Variable(tf.fill([self.num_users, self.max_length], -1), trainable=False, name="user_history")
        # Items without a training interaction are no negatives (as in TwoTowerRetrieval).
        self.in_training = tf.Variable(tf.ones([self.num_items]), trainable=False, name="in_training")
        self._all_items = tf.range(self.num_items)

    def set_training_data(self, item_counts, histories, text_table=None):
        """Items seen in training, the users' histories (oldest first) and the text table."""
        known = np.asarray(item_counts) > 0
        self.in_training.assign(known.astype("float32"))
        self.item_tower.set_known_items(known)
        if text_table is not None and self.text_dim:
            self.item_tower.set_text_table(text_table)
        self.set_history(histories)

    def set_history(self, histories):
        """Stores each user's latest `max_length` items (a list per user, oldest first)."""
        self.user_history.assign(latest_items(histories, self.max_length, self.num_users))


    def query(self, users):
        """`[batch, embedding_dim]`: each user's query after their latest stored item."""
        return self.query_for_history(tf.gather(self.user_history, users))

    def query_for_history(self, history):
        """`[batch, embedding_dim]` queries of histories `[batch, max_length]` (-1 padding, newest last)."""
        flat = tf.reshape(tf.maximum(history, 0), [-1])
        vectors = tf.reshape(self.item_tower(flat), tf.concat([tf.shape(history), [-1]], 0))
        return self.query_tower.last(vectors, history >= 0)

    def candidates(self):
        """`[num_items, embedding_dim]` item vectors."""
        return self.item_tower(self._all_items)

    def score(self, users):
        """`[batch, num_items]` scores of every item for `users`."""
        return tf.matmul(self.query(users), self.candidates(), transpose_b=True)

    def _text_towers(self):
        return [self.item_tower] if self.text_dim else []

    def compute_loss(self, features, training=False):
        sequence = features["sequence"]
        inputs, targets = sequence[:, :-1], sequence[:, 1:]
        shape = tf.shape(inputs)
        # The step's items carry the encoder's gradient when it fine-tunes (ItemTower.step_table);
        # an XLA-compiled step (compile(jit_compile=True)) needs static shapes.
        table = self.item_tower.step_table(sequence, training, static_shapes=bool(getattr(self, "jit_compile", False)),
                                           valid=sequence >= 0) if self.text_dim else None
        vectors = tf.reshape(self.item_tower(tf.reshape(tf.maximum(inputs, 0), [-1]), training=training, table=table),
                             [shape[0], shape[1], -1])
        queries = self.query_tower(vectors, inputs >= 0, training=training)
        scored = (inputs >= 0) & (targets >= 0)
        queries, targets = tf.boolean_mask(queries, scored), tf.boolean_mask(targets, scored)
        candidates = self.item_tower(self._all_items, training=training, table=table)
        logits = tf.matmul(queries, candidates, transpose_b=True) / self.temperature
        logits -= 1e9 * (1.0 - self.in_training)
        # Cross-entropy written out, as TwoTowerRetrieval's (the deterministic kernel is slower).
        target = tf.reduce_sum(logits * tf.one_hot(targets, self.num_items, dtype=logits.dtype), 1)
        return tf.reduce_sum(tf.reduce_logsumexp(logits, 1) - target) / tf.maximum(
            tf.cast(tf.size(targets), logits.dtype), 1.0)

    def get_config(self):
        return dict(num_users=self.num_users, num_items=self.num_items, text_dim=self.text_dim, **self.options)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def latest_items(histories, length, num_users):
    """`[num_users, length]` int32: each user's latest `length` items, newest last, left-padded with -1."""
    table = np.full((num_users, length), -1, np.int32)
    for user, items in enumerate(histories[:num_users]):
        kept = list(items)[-length:]
        if kept:
            table[user, length - len(kept):] = kept
    return table
