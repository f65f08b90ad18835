"""`SequentialRetrieval`: SASRec-style retrieval, the user being the items they just had."""

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfllmrec.models.encoder_fine_tuning import EncoderFineTuningMixin
from tfllmrec.models.impression_loss import impression_softmax_loss
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
    oldest first, -1 padding; with `use_user_ids`, `"user": int [batch]`;
    with time periods, `"periods": int [batch, max_length + 1]`, each
    item's period (-1: none). `set_history` stores each user's latest items
    for `query` and `score` (evaluation, serving), and `set_periods` the
    period of each user's request.

    Two optional inputs, as a two-tower query has: a user-id vector added
    to every position's input (`use_user_ids`), and the request's time
    (`num_periods`): a learned vector per period of `period_days` days,
    added to each position's query, the period being that of the item it
    answers with (training) or of the request (evaluation; serving asks in
    the latest trained period). Both start at zero, so a user or a period
    that training never saw adds nothing.

    Args:
        num_users: int. Users whose histories `query` reads.
        num_items: int. Catalogue size.
        text_dim: int or None. Item text embedding size; None: ids only.
        num_periods: int. Time periods of the request-time vector (from the
            data, with `period_days`); 0: off.
        embedding_dim: int. Item vector and transformer width.
        use_item_ids: bool. Item-id embeddings (False: ID-free).
        text_hidden_dim: int. Hidden units of the text MLP; 0: linear.
        id_dropout: float. Probability of zeroing an item's id vector in
            training (with ids and text), so that its text carries it.
        use_user_ids: bool. A user-id vector at every position (needs item
            ids: the ID-free mode has no id of any kind).
        period_days: int. Days per time period; needs `num_periods`.
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

    def __init__(self, num_users, num_items, text_dim=None, num_periods=0, embedding_dim=64, use_item_ids=True,
                 text_hidden_dim=256, id_dropout=0.0, use_user_ids=False, period_days=0, max_length=50, num_layers=2,
                 num_heads=1, dropout=0.2, temperature=0.1, encoder="all-minilm-l6-v2", sequence_length=64,
                 trainable="none", fine_tune_items=64, **kwargs):
        super().__init__(**kwargs)
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.text_dim = None if not text_dim else int(text_dim)
        self.num_periods = int(num_periods)
        _check_arguments(use_item_ids, self.text_dim, use_user_ids, self.num_periods, period_days, temperature)
        self.options = dict(embedding_dim=int(embedding_dim), use_item_ids=bool(use_item_ids),
                            text_hidden_dim=int(text_hidden_dim), id_dropout=float(id_dropout),
                            use_user_ids=bool(use_user_ids), period_days=int(period_days),
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
        # Zero at the start: a user or period without training rows adds nothing.
        self.user_embedding = tf.keras.layers.Embedding(
            self.num_users, self.options["embedding_dim"], embeddings_initializer="zeros",
            name="user_embedding") if use_user_ids else None
        self.period_embedding = tf.keras.layers.Embedding(
            self.num_periods, self.options["embedding_dim"], embeddings_initializer="zeros",
            name="period_embedding") if self.num_periods else None
        for table in (self.user_embedding, self.period_embedding):
            if table is not None:
                table.build([None])  # read as tables (rows_or_zeros), never called
        self.user_history = tf.Variable(tf.fill([self.num_users, self.max_length], -1), trainable=False, name="user_history")
        # Each user's request period, -1: none (set_periods).
        self.user_period = tf.Variable(tf.fill([self.num_users], -1), trainable=False, name="user_period")
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

    def set_periods(self, periods):
        """Stores each user's request period (int `[num_users]`, -1: none), which `query` reads."""
        periods = np.asarray(periods, np.int64)
        if (periods.shape != (self.num_users,) or periods.min(initial=-1) < -1
                or periods.max(initial=-1) >= self.num_periods):
            raise ValueError(f"set_periods needs {self.num_users} periods from -1 to {self.num_periods - 1}; got "
                             f"shape {periods.shape}, range {periods.min(initial=-1)}..{periods.max(initial=-1)}.")
        self.user_period.assign(periods.astype(np.int32))

    @property
    def latest_period(self):
        """The period a request after training falls in (-1: no periods)."""
        return self.num_periods - 1

    def query(self, users):
        """`[batch, embedding_dim]`: each user's query after their latest stored item, at their stored period."""
        return self.query_for_history(tf.gather(self.user_history, users), users=users,
                                      periods=tf.gather(self.user_period, users))

    def query_for_history(self, history, users=None, periods=None, training=False):
        """`[batch, embedding_dim]` queries of histories `[batch, max_length]` (-1 padding, newest last).

        `users` (int `[batch]`, -1: unknown) add their id vectors; `periods`
        (int `[batch]`) are the requests' periods, None: the latest one.
        """
        vectors = self._item_vectors(history, training)
        if periods is None:
            periods = tf.fill(tf.shape(history)[:1], self.latest_period)
        return self.query_tower.last(vectors, history >= 0, user_vectors=self.user_vectors(users),
                                     time_vectors=self.time_vectors(periods), training=training)

    def user_vectors(self, users):
        """`[batch, embedding_dim]` user-id vectors (zero for -1), or None without user ids."""
        if self.user_embedding is None or users is None:
            return None
        return rows_or_zeros(self.user_embedding.embeddings, users)

    def time_vectors(self, periods):
        """Request-time vectors of `periods` (int, any shape; -1: none), or None without periods."""
        if self.period_embedding is None:
            return None
        return rows_or_zeros(self.period_embedding.embeddings, periods)

    def _item_vectors(self, indices, training, table=None):
        """`[..., embedding_dim]` vectors of item indices of any shape (-1 padding reads item 0)."""
        flat = self.item_tower(tf.reshape(tf.maximum(indices, 0), [-1]), training=training, table=table)
        return tf.reshape(flat, tf.concat([tf.shape(indices), [-1]], 0))

    def candidates(self):
        """`[num_items, embedding_dim]` item vectors."""
        return self.item_tower(self._all_items)

    def score(self, users):
        """`[batch, num_items]` scores of every item for `users`."""
        return tf.matmul(self.query(users), self.candidates(), transpose_b=True)

    def _text_towers(self):
        return [self.item_tower] if self.text_dim else []

    def compute_loss(self, features, training=False):
        if "candidates" in features:
            return self._impression_loss(features["user"], features["candidates"], training)
        sequence = features["sequence"]
        inputs, targets = sequence[:, :-1], sequence[:, 1:]
        # The step's items carry the encoder's gradient when it fine-tunes (ItemTower.step_table);
        # an XLA-compiled step (compile(jit_compile=True)) needs static shapes.
        table = self.item_tower.step_table(sequence, training, static_shapes=bool(getattr(self, "jit_compile", False)),
                                           valid=sequence >= 0) if self.text_dim else None
        vectors = self._item_vectors(inputs, training, table)
        # Position t answers with item t + 1: its request happens at that item's time.
        periods = features["periods"][:, 1:] if self.num_periods else None
        queries = self.query_tower(vectors, inputs >= 0, user_vectors=self.user_vectors(features.get("user")),
                                   time_vectors=self.time_vectors(periods), training=training)
        scored = (inputs >= 0) & (targets >= 0)
        queries, targets = tf.boolean_mask(queries, scored), tf.boolean_mask(targets, scored)
        candidates = self.item_tower(self._all_items, training=training, table=table)
        logits = tf.matmul(queries, candidates, transpose_b=True) / self.temperature
        logits -= 1e9 * (1.0 - self.in_training)
        # Cross-entropy written out, as TwoTowerRetrieval's (the deterministic kernel is slower).
        target = tf.reduce_sum(logits * tf.one_hot(targets, self.num_items, dtype=logits.dtype), 1)
        return tf.reduce_sum(tf.reduce_logsumexp(logits, 1) - target) / tf.maximum(
            tf.cast(tf.size(targets), logits.dtype), 1.0)

    def _impression_loss(self, users, candidates, training):
        """News: each click (column 0 of `candidates`, -1 padding) against its impression's
        non-clicks, the query read after the user's stored history (`set_history`), as
        `TwoTowerRetrieval` trains on impressions; the click leaves the history it is asked of."""
        history = tf.gather(self.user_history, users)
        history = tf.where(history == tf.cast(candidates[:, :1], history.dtype), -1, history)
        queries = self.query_for_history(history, users=users, training=training)
        logits = tf.einsum("bd,bcd->bc", queries, self._item_vectors(candidates, training)) / self.temperature
        return impression_softmax_loss(logits, candidates)

    def get_config(self):
        return dict(num_users=self.num_users, num_items=self.num_items, text_dim=self.text_dim,
                    num_periods=self.num_periods, **self.options)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def rows_or_zeros(table, indices):
    """`table`'s rows at `indices` (int, any shape), zeros where an index is -1 (none)."""
    indices = tf.cast(indices, tf.int32)
    return tf.gather(table, tf.maximum(indices, 0)) * tf.cast(indices >= 0, table.dtype)[..., None]


def _check_arguments(use_item_ids, text_dim, use_user_ids, num_periods, period_days, temperature):
    if not use_item_ids and not text_dim:
        raise ValueError("use_item_ids=False needs item text (text_dim): an item would be nothing. "
                         "Fix: keep the item ids, or give the items' text.")
    if use_user_ids and not use_item_ids:
        raise ValueError("use_user_ids=True with use_item_ids=False: the ID-free mode has no id of any kind, "
                         "so that every new user is first-class. Fix: use_user_ids=False, or keep the item ids.")
    if bool(num_periods) != bool(period_days > 0):
        raise ValueError(f"num_periods={num_periods} with period_days={period_days}: time periods need both "
                         "(or neither). Fix: give both, or set both to 0.")
    if not temperature > 0:
        raise ValueError(f"temperature={temperature}: it divides the scores; use a number > 0, e.g. 0.1.")


def latest_items(histories, length, num_users):
    """`[num_users, length]` int32: each user's latest `length` items, newest last, left-padded with -1."""
    table = np.full((num_users, length), -1, np.int32)
    for user, items in enumerate(histories[:num_users]):
        kept = list(items)[-length:]
        if kept:
            table[user, length - len(kept):] = kept
    return table
