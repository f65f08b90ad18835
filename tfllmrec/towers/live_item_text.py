"""`LiveItemText`: the item texts' embeddings by an encoder that fine-tunes in the training step."""

import numpy as np
import tensorflow as tf


class LiveItemText(tf.keras.layers.Layer):
    """Embeds catalogue items' texts with a `TextEncoder` that trains.

    Holds what the encoder needs per item, computed once before training
    (`set_inputs`): with `trainable="top:N"`, the outputs of the frozen
    lower layers (`TextEncoder.frozen_states`), so a step runs only the top
    N layers; with `"all"`, the token ids. These inputs are a cache, not
    state: they are neither trained nor checkpointed, and a run that
    resumes computes them again (from the disk cache). Each step embeds
    each distinct item of the batch once (`tf.unique`).

    Args:
        encoder: `TextEncoder` with `trainable` "top:N" or "all"; its
            variables are this layer's, so checkpoints hold the fine-tuned
            weights.
        refresh_batch_size: int. Items per batch of `embed_all`.

    Example:
    >>> from tfllmrec.encoders import TextEncoder
    >>> live = LiveItemText(TextEncoder.from_preset("tiny-random", trainable="top:1"))
    >>> live.set_inputs(*live.encoder.frozen_states(["a red shoe", "a blue hat"]))
    >>> live(tf.constant([1, 1, 0])).shape
    TensorShape([3, 32])
    """

    def __init__(self, encoder, refresh_batch_size=256, **kwargs):
        super().__init__(**kwargs)
        if encoder.trainable_mode == "none":
            raise ValueError('LiveItemText needs an encoder that trains (trainable="top:N" or "all").')
        self.encoder = encoder
        self.refresh_batch_size = int(refresh_batch_size)
        self._inputs = None
        self._embed_all_fn = None

    @property
    def num_items(self):
        return 0 if self._inputs is None else int(self._inputs[0].shape[0])

    @property
    def embedding_dim(self):
        return self.encoder.embedding_dim

    def inputs_of(self, texts, batch_size=64):
        """What `set_inputs` takes for `texts`: `(values, mask)` NumPy arrays."""
        if self.encoder.trainable_mode == "all":
            values, lengths = self.encoder._token_rows(np.asarray(list(texts), dtype=object))
            width = int(max(lengths, default=1))
            ids = np.full((len(values), width), self.encoder._pad_id, np.int32)
            for row, tokens in enumerate(values):
                ids[row, : len(tokens)] = tokens
            mask = (np.arange(width)[None, :] < np.asarray(lengths)[:, None]).astype(np.int32)
            return ids, mask
        return self.encoder.frozen_states(texts, batch_size=batch_size)

    def set_inputs(self, values, mask):
        """Sets each item's cached encoder inputs, one row per item (see `inputs_of`)."""
        values, mask = np.asarray(values), np.asarray(mask, np.int32)
        if values.shape[:2] != mask.shape:
            raise ValueError(f"item text inputs {values.shape} and mask {mask.shape} disagree.")
        dtype = tf.int32 if self.encoder.trainable_mode == "all" else tf.float32
        # Plain tensors, not variables: a cache of the frozen part, kept out of checkpoints.
        self._inputs = (tf.constant(values, dtype), tf.constant(mask))

    def _embed_rows(self, values, mask, training, static_shapes):
        encoder = self.encoder
        embed = encoder._embed_tokens if encoder.trainable_mode == "all" else encoder._upper
        if static_shapes:
            return embed(values, mask, training)
        return encoder._by_length(embed, values, tf.cast(mask, tf.int32), training)

    def call(self, indices, training=None, static_shapes=False):
        """Embeddings `[n, dim]` of items `indices` `[n]`, each distinct item encoded once.

        `static_shapes`: for XLA, which needs shapes it can infer: every row
        keeps the catalogue's longest token count and a repeated item is
        encoded again (no `tf.unique`).
        """
        if self._inputs is None:
            raise ValueError("LiveItemText has no item texts: call set_inputs first (the model's "
                             "set_text_inputs).")
        flat = tf.reshape(indices, [-1])
        if static_shapes:
            return self._embed_rows(*(tf.gather(part, flat) for part in self._inputs), training, True)
        distinct, back = tf.unique(flat)
        values, mask = (tf.gather(part, distinct) for part in self._inputs)
        return tf.gather(self._embed_rows(values, mask, training, False), back)

    def embed_all(self):
        """`[num_items, dim]` NumPy embeddings of every item (inference), in batches."""
        if self._embed_all_fn is None:
            self._embed_all_fn = tf.function(lambda rows: self(rows, training=False))
        rows = np.arange(self.num_items, dtype=np.int32)
        step = self.refresh_batch_size
        parts = [self._embed_all_fn(tf.constant(rows[i:i + step])).numpy()
                 for i in range(0, len(rows), step)]
        return np.concatenate(parts) if parts else np.zeros((0, self.embedding_dim), np.float32)

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        children = super()._trackable_children(save_type, **kwargs)
        children.pop("_embed_all_fn", None)
        return children
