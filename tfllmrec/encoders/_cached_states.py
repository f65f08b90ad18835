"""Cached lower layers of a `TextEncoder` (a mixin of its methods)."""

import tensorflow as tf


class CachedStatesMixin:
    """`frozen_states` / `call_on_states` for `TextEncoder`.

    With `trainable="top:N"` the layers below the top N never change, so
    their output per text can be computed once (`frozen_states`) and each
    training step runs only the top N layers on it (`call_on_states`): same
    outputs and gradients, a fraction of the work. Uses the encoder's
    `backbone`, `trainable_mode`, `num_layers`, `_transformer_layers`,
    `_by_length`, `_pool`, `_bert_training`, `_batched` and `_embed_fns`.
    """

    @property
    def num_frozen_layers(self):
        """Transformer layers below the trainable ones (all of them for "none")."""
        if self.trainable_mode == "all":
            return 0
        if self.trainable_mode == "none":
            return self.num_layers
        return self.num_layers - int(self.trainable_mode.split(":")[1])

    def _bert_parts(self):
        names = ("token_embedding", "position_embedding", "segment_embedding",
                 "embeddings_add", "embeddings_layer_norm", "embeddings_dropout")
        missing = [n for n in names if not hasattr(self.backbone, n)]
        if missing:
            raise NotImplementedError(
                f"Cached lower layers need a BERT backbone (keras_hub BertBackbone); "
                f"{type(self.backbone).__name__} of preset {self.preset!r} has no {missing}."
            )
        if self.trainable_mode == "all":
            raise ValueError(
                'trainable="all" trains the embeddings, so no layer output can be '
                'cached. Cache states with trainable="top:N" (or "none").'
            )
        return [getattr(self.backbone, n) for n in names]

    def _lower_states(self, token_ids, mask):
        """Hidden states after the frozen layers (inference: no dropout)."""
        token, position, segment, add, norm, _ = self._bert_parts()
        tokens = token(token_ids)
        x = add((tokens, position(tokens), segment(tf.zeros_like(token_ids))))
        x = norm(x)
        for layer in self._transformer_layers()[: self.num_frozen_layers]:
            x = layer(x, padding_mask=mask, training=False)
        return tf.cast(x, tf.float32)

    def frozen_states(self, texts, batch_size=64):
        """Hidden states of `texts` below the trainable layers, to cache.

        Args:
            texts: list of str, or a 1-D array of str/bytes.
            batch_size: int. Texts per batch.

        Returns:
            `(states, mask)`: float32 `[n, L, hidden_dim]` and int32 `[n, L]`
            numpy arrays, `L` the longest text's token count. Feed rows of
            them (any subset) to `call_on_states`.
        """
        self._bert_parts()  # fails early for "all" or a non-BERT backbone
        if "lower" not in self._embed_fns:
            self._embed_fns["lower"] = tf.function(
                self._lower_states, input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2
            )
        return self._batched(texts, batch_size, self._embed_fns["lower"], keep_padding=True)

    def call_on_states(self, states, mask, training=None):
        """Embeddings from `frozen_states` rows: the top layers and pooling.

        Args:
            states: float `[batch, L, hidden_dim]`.
            mask: int `[batch, L]` padding mask.
            training: bool. Dropout in the trainable layers.

        Returns:
            float32 `[batch, embedding_dim]`, what `call` gives on the texts.
        """
        self._bert_parts()
        mask = tf.cast(mask, tf.int32)
        return self._by_length(self._upper, tf.convert_to_tensor(states), mask, training)

    def _upper(self, states, mask, training=None):
        x = tf.cast(states, self.backbone.compute_dtype)
        for layer in self._transformer_layers()[self.num_frozen_layers :]:
            x = layer(x, padding_mask=mask, training=self._bert_training(training))
        return self._pool(x, mask)
