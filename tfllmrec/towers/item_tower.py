"""`ItemTower`: item-id embedding fused with a projection of the item's text."""

import numpy as np
import tensorflow as tf

from tfllmrec.model_rules import check_item_tower
from tfllmrec.towers.text_placement import neighbour_mean, place_by_text


class ItemTower(tf.keras.layers.Layer):
    """The candidate tower: `normalize(id_embedding + MLP(text_embedding))`.

    The text path reads a table of text embeddings, one row per item, that
    a frozen `TextEncoder` filled once (`set_text_table`), so training never
    re-runs BERT for the same title; or, to fine-tune, a `LiveItemText`
    re-embeds each training step's items (`attach_live_text`). Items unseen in training get a zero id
    vector (`set_known_items`), and training drops ids at random
    (`id_dropout`), so the text path alone places cold-start items.

    Args:
        num_items: int. Catalogue size (rows of both tables).
        embedding_dim: int. Output size.
        use_item_ids: bool. Include the item-id embedding.
        text_dim: int or None. Size of the text embeddings; None: no text.
        text_hidden_dim: int. Hidden units of the text MLP; 0: a linear
            projection (less capacity to memorise items, which can place
            new items better).
        text_dropout: float. Dropout on the text MLP's input and hidden
            units in training.
        id_dropout: float. Probability of zeroing an item's id vector in a
            training step.
        normalize: bool. L2-normalise the output.
        seed: int. Seed of the id-dropout random stream.
        fuse_text: bool. Add the text MLP's output to known items' id
            vectors. False: a known item is its id vector alone (what an
            ID-only model learns) and the text path only places items
            without a trained id, trained by an auxiliary loss
            (`TwoTowerRetrieval(text_loss_weight=...)`) or replaced by
            `cold_neighbors`.
        cold_neighbors: int. Place each item without a trained id (and
            each new item, `new_item_vectors`) at the similarity-weighted
            mean of the vectors of the `cold_neighbors` known items whose
            text embeddings are nearest (cosine): a new film sits where the
            films described most like it sit. 0: the text MLP places them.
            Each inference call compares every item without an id with the
            whole catalogue (`[unknown, num_items]` similarities), which
            suits catalogues up to about 100k items.
        cold_neighbor_temperature: float. Softmax temperature over those
            cosine similarities (lower: the nearest weigh more).
        init_stddev: float. Standard deviation of the initial id vectors.

    Example:
    >>> tower = ItemTower(num_items=3, embedding_dim=4, text_dim=8)
    >>> tower.set_text_table(np.ones((3, 8), "float32"))
    >>> tower(tf.constant([0, 2])).shape
    TensorShape([2, 4])
    """

    def __init__(
        self,
        num_items,
        embedding_dim=64,
        use_item_ids=True,
        text_dim=None,
        text_hidden_dim=256,
        id_dropout=0.0,
        normalize=True,
        text_dropout=0.0,
        seed=0,
        fuse_text=True,
        cold_neighbors=0,
        cold_neighbor_temperature=0.1,
        init_stddev=0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_item_tower(use_item_ids, bool(text_dim), id_dropout, text_dropout, text_hidden_dim, fuse_text,
                         cold_neighbors, cold_neighbor_temperature)
        self.num_items = int(num_items)
        self.embedding_dim = int(embedding_dim)
        self.use_item_ids = bool(use_item_ids)
        self.text_dim = None if not text_dim else int(text_dim)
        self.text_hidden_dim = int(text_hidden_dim)
        self.id_dropout = float(id_dropout)
        self.text_dropout = float(text_dropout)
        self.normalize = bool(normalize)
        self.seed = int(seed)
        self.fuse_text = bool(fuse_text)
        self.cold_neighbors = int(cold_neighbors)
        self.cold_neighbor_temperature = float(cold_neighbor_temperature)
        self.init_stddev = float(init_stddev)
        # Dropout draws from a generator whose state is a checkpointed
        # variable, so a resumed run continues the same random stream.
        self.dropout_rng = tf.random.Generator.from_seed(self.seed)
        init = tf.keras.initializers.RandomNormal(stddev=self.init_stddev)
        self.ids = None
        if self.use_item_ids:
            self.ids = tf.keras.layers.Embedding(
                self.num_items, self.embedding_dim, embeddings_initializer=init, name="item_ids"
            )
            # Kept float32 under mixed precision (autocast=False): a mask and
            # the cosines that pick neighbours must not round to float16.
            self.known = self.add_weight(
                name="known_items", shape=[self.num_items], trainable=False,
                initializer="ones", autocast=False,
            )
        self.text_mlp = None
        if self.text_dim:
            self.text_table = self.add_weight(
                name="text_table", shape=[self.num_items, self.text_dim], trainable=False,
                initializer="zeros", autocast=False,
            )
            sizes = [(self.text_hidden_dim, "gelu")] if self.text_hidden_dim else []
            layers = []
            for units, activation in sizes + [(self.embedding_dim, None)]:
                if self.text_dropout:
                    # Only when asked: dropout layers would renumber the
                    # layers that existing checkpoints name.
                    layers.append(tf.keras.layers.Dropout(self.text_dropout))
                layers.append(tf.keras.layers.Dense(units, activation=activation))
            self.text_mlp = tf.keras.Sequential(layers, name="text_mlp")
        self.live_text = None

    def attach_live_text(self, live_text, items_per_step=0):
        """Fine-tunes the text path: a training step embeds its items with
        `live_text` (a `LiveItemText`) instead of reading the text table.

        The table then holds the same encoder's embeddings as of its last
        `refresh_text_table`, and every other use reads it: the full
        softmax's other items, evaluation, new items' neighbours. With
        `items_per_step` > 0 a step re-embeds at most that many of its
        distinct items, drawn at random (the tower's checkpointed
        generator, so a resumed run draws the same).
        """
        if not self.text_dim or live_text.embedding_dim != self.text_dim:
            raise ValueError(f"The live encoder gives {live_text.embedding_dim}-d embeddings; this tower's "
                             f"text table is {self.text_dim}-d.")
        self.live_text, self.live_items_per_step = live_text, int(items_per_step)

    def step_table(self, indices, training=False, static_shapes=False, valid=None):
        """The text table a step reads: in training with a live encoder, the
        rows of `indices` carry the encoder's gradient (their values stay the
        stored ones, refreshed by `refresh_text_table`), the rest are constant.

        `static_shapes` (XLA): rows drawn from `indices` without removing
        repeats, so their number is known when the step compiles; a repeat
        is drawn after every first occurrence and passes no gradient (each
        item's row reaches the encoder once, as `tf.unique` makes it eagerly).
        `valid`: bool like `indices`, or None (all valid): False marks
        padding, never encoded eagerly; with `static_shapes` it is treated
        as a repeat of item 0.
        """
        if self.live_text is None or not training:
            return self.text_table
        flat = tf.reshape(indices, [-1])
        valid = None if valid is None else tf.reshape(valid, [-1])
        firsts = None
        if static_shapes:
            firsts = _first_occurrences(flat if valid is None else tf.where(valid, flat, -1))
            if valid is not None:
                flat, firsts = tf.where(valid, flat, tf.zeros_like(flat)), firsts & valid
            distinct = flat
        else:
            distinct = tf.unique(flat if valid is None else tf.boolean_mask(flat, valid))[0]
        if self.live_items_per_step:
            draw = self.dropout_rng.uniform(tf.shape(distinct))
            if firsts is not None:
                draw += 1.0 - tf.cast(firsts, draw.dtype)  # draws lie in [0, 1): repeats sort after them all
            order = tf.argsort(draw)[: self.live_items_per_step]
            distinct = tf.gather(distinct, order)
            firsts = None if firsts is None else tf.gather(firsts, order)
        live = tf.cast(self.live_text(distinct, training=True, static_shapes=static_shapes), self.text_table.dtype)
        # Forward, the stored rows, as every other item's; backward, into the encoder. Fresh
        # rows for the batch's own items would let the full softmax tell positives from
        # negatives by how fresh their text is (on Last.fm it learned that: -18% NDCG@10).
        change = live - tf.stop_gradient(live)
        if firsts is not None:
            # A scattered row's gradient reaches every copy of its index: only one may pass it on.
            change *= tf.cast(firsts, change.dtype)[:, None]
        live = tf.gather(self.text_table, distinct) + change
        return tf.tensor_scatter_nd_update(self.text_table, distinct[:, None], live)

    def refresh_text_table(self):
        """Re-embeds the whole catalogue with the live encoder's current weights."""
        self.text_table.assign(self.live_text.embed_all())

    def set_text_table(self, embeddings):
        """Fills the text table with `[num_items, text_dim]` embeddings."""
        embeddings = np.asarray(embeddings, np.float32)
        if embeddings.shape != (self.num_items, self.text_dim):
            raise ValueError(
                f"text table must be {(self.num_items, self.text_dim)}, got {embeddings.shape}."
            )
        self.text_table.assign(embeddings)

    def set_known_items(self, known):
        """Marks which items have trained ids (bool `[num_items]`).

        With a text path, unseen items' ids are zeroed so their text alone
        places them. Without one, their untrained random ids are kept: an
        ID-only model can only guess about them, and zeroed ids would all
        tie and be ranked by index, which is no fairer a guess.
        """
        if self.use_item_ids and self.text_mlp is not None:
            self.known.assign(np.asarray(known, np.float32))

    def new_item_vectors(self, text_embeddings):
        """Output vectors of new items known only by their text embeddings `[n, text_dim]`.

        Their `cold_neighbors` nearest known items' mean vector when set,
        else the text MLP's (`text_only_vectors`).
        """
        if not self.cold_neighbors:
            return self.text_only_vectors(text_embeddings)
        tf.debugging.assert_positive(
            tf.reduce_sum(self.known),
            message="cold_neighbors needs items with trained ids (set_known_items marks none).")
        # Only items with a trained id are donors.
        vectors = neighbour_mean(text_embeddings, self.text_table, self._normalized,
                                 min(self.cold_neighbors, self.num_items),
                                 self.cold_neighbor_temperature, donors=self.known)
        return tf.math.l2_normalize(vectors, -1) if self.normalize else vectors

    def text_vectors(self, text_embeddings, training=False):
        """Un-normalised vectors of items given only their text embeddings."""
        return self.text_mlp(text_embeddings, training=training)

    def text_only(self, indices, table=None):
        """Vectors of items from their text alone, as a new item gets: `[n, dim]`.

        `table`: the step's text table (`step_table`); None: the stored one.
        """
        return self.text_only_vectors(tf.gather(self.text_table if table is None else table, indices))

    def text_only_vectors(self, text_embeddings):
        """Output vectors of items known only by their text embeddings `[n, text_dim]`:
        new items, or a free-text query placed in the item space."""
        return place_by_text(self.text_mlp, text_embeddings, normalize=self.normalize)

    def raw(self, indices, training=False, table=None):
        """Un-normalised item vectors `[n, embedding_dim]` (`table`: see `text_only`)."""
        parts = []
        if self.use_item_ids:
            ids = self.ids(indices)
            keep = tf.gather(self.known, indices)
            if training and self.id_dropout > 0:
                draw = self.dropout_rng.uniform(tf.shape(indices))
                keep *= tf.cast(draw >= self.id_dropout, keep.dtype)
            parts.append(ids * tf.cast(keep, ids.dtype)[:, None])
        if self.text_mlp is not None and self.fuse_text:
            table = self.text_table if table is None else table
            parts.append(self.text_vectors(tf.gather(table, indices), training=training))
        elif self.text_mlp is not None and not self.text_mlp.built:
            # Built where a fused tower first runs it: the same initial values are
            # drawn in the same order, and a checkpoint restores into it.
            self.text_mlp.build((None, self.text_dim))
        # Unfused, an item without a trained id is zero here (training leaves such
        # items out of every loss); `call` places it at inference.
        return tf.add_n([tf.cast(p, self.compute_dtype) for p in parts])

    def _normalized(self, indices, training=False, table=None):
        # Scores and losses are computed in float32 under mixed precision.
        vectors = tf.cast(self.raw(indices, training=training, table=table), tf.float32)
        return tf.math.l2_normalize(vectors, -1) if self.normalize else vectors

    def call(self, indices, training=False, table=None):
        vectors = self._normalized(indices, training=training, table=table)
        if (self.cold_neighbors or not self.fuse_text) and not training:
            # Items without a trained id (never negatives in training) are
            # placed by their text alone; the rest keep their vectors.
            unknown = tf.where(tf.gather(self.known, indices) < 0.5)
            placed = self.new_item_vectors(tf.gather(self.text_table, tf.gather_nd(indices, unknown)))
            vectors = tf.tensor_scatter_nd_update(vectors, unknown, placed)
        return vectors

    def get_config(self):
        config = super().get_config()
        config.update(
            num_items=self.num_items,
            embedding_dim=self.embedding_dim,
            use_item_ids=self.use_item_ids,
            text_dim=self.text_dim,
            text_hidden_dim=self.text_hidden_dim,
            id_dropout=self.id_dropout,
            normalize=self.normalize,
            seed=self.seed,
            text_dropout=self.text_dropout,
            fuse_text=self.fuse_text,
            cold_neighbors=self.cold_neighbors,
            cold_neighbor_temperature=self.cold_neighbor_temperature,
            init_stddev=self.init_stddev,
        )
        return config


def _first_occurrences(values):
    """bool `[n]`: whether each of `values` `[n]` is the first of its value (static shapes, for XLA)."""
    order = tf.argsort(values, stable=True)
    ordered = tf.gather(values, order)
    first = tf.concat([tf.ones([1], tf.int32), tf.cast(ordered[1:] != ordered[:-1], tf.int32)], 0)
    return tf.tensor_scatter_nd_update(tf.zeros_like(values, tf.int32), order[:, None], first) > 0
