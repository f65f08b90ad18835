"""`TextEncoder`: a tf-keras layer around a keras-hub BERT backbone."""

import tensorflow as tf

from tfllmrec.encoders._batching import BatchedEncodingMixin
from tfllmrec.encoders._cached_states import CachedStatesMixin
from tfllmrec.encoders._options import check_loaded_options, check_number_options, check_texts
from tfllmrec.encoders.keras3_bridge import Keras3BridgeMixin
from tfllmrec.encoders.presets import EMBEDDED_PRESET, load_preset
from tfllmrec.trainable_mode import parse_trainable


class TextEncoder(Keras3BridgeMixin, CachedStatesMixin, BatchedEncodingMixin, tf.keras.layers.Layer):
    """Embeds raw texts with a pretrained BERT-family encoder from keras-hub.

    A tf-keras (Keras 2) layer, so it plugs into TFRS towers and tf-keras
    optimizers, that owns a keras-hub (Keras 3) backbone and its WordPiece
    tokenizer. Tokenisation runs in the TensorFlow graph: the layer takes a
    rank-1 `tf.string` tensor and a SavedModel of it takes raw strings.
    Each batch is padded only to its longest text, which gives the same
    embeddings as padding to `sequence_length` at a fraction of the cost.

    Args:
        preset: str. A preset name or folder; see `TextEncoder.from_preset`.
        sequence_length: int or None. Tokens per text including [CLS] and
            [SEP]; longer texts are truncated. None: the preset's own.
        pooling: str or None. `"mean"` over non-padding tokens or `"cls"`.
            None: the preset's original pipeline (mean for all-MiniLM-L6-v2).
        normalize: bool or None. L2-normalise the output. None: the preset's.
        output_dim: int or None. Adds a trainable linear projection to this
            many dimensions (applied before normalisation).
        trainable: str or bool. Which BERT variables train: `"none"`,
            `"top:N"` (the top N transformer layers) or `"all"`. The
            projection, when present, always trains.
        deduplicate: bool. Run BERT once per distinct text of a batch
            (`tf.unique`) and gather the results back: same outputs and
            gradients, less work when a batch repeats texts (a training
            batch of interactions names popular items many times).
        length_buckets: int. Sort each batch's texts by token count and run
            BERT on this many chunks, each padded only to its own longest
            text: same outputs, less padding for batches of mixed lengths
            (training). 1 (default): one chunk, the cheapest for small
            batches (serving).
        **kwargs: tf-keras `Layer` arguments (`name`, ...).

    Example:
    >>> import tfllmrec, tensorflow as tf
    >>> from tfllmrec.encoders import TextEncoder
    >>> enc = TextEncoder.from_preset("all-minilm-l6-v2", sequence_length=128)
    >>> enc(tf.constant(["red running shoe"])).shape
    TensorShape([1, 384])
    """

    def __init__(
        self,
        preset=EMBEDDED_PRESET,
        sequence_length=None,
        pooling=None,
        normalize=None,
        output_dim=None,
        trainable="none",
        deduplicate=False,
        length_buckets=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # Before the preset loads: a bad number fails at once, and 0 is not "the preset's own".
        check_number_options(sequence_length, output_dim, length_buckets)
        loaded = load_preset(preset, sequence_length=sequence_length)
        self.preset = str(preset)
        self.backbone = loaded.backbone
        self.tokenizer = loaded.tokenizer
        self.sequence_length = int(sequence_length or loaded.sequence_length)
        self.pooling = pooling or loaded.pooling
        self.normalize = loaded.normalize if normalize is None else bool(normalize)
        self.output_dim = None if output_dim is None else int(output_dim)
        self.deduplicate = bool(deduplicate)
        self.length_buckets = int(length_buckets)
        check_loaded_options(self.pooling, self.sequence_length, self.backbone)
        self.num_layers = len(self._transformer_layers())
        self.trainable_mode = parse_trainable(trainable, self.num_layers)
        self._freeze_backbone()
        self._start_id, self._end_id, self._pad_id = self._special_token_ids()
        self.projection = None
        if self.output_dim is not None:
            self.projection = tf.keras.layers.Dense(self.output_dim, name="projection")
        # Compiled helpers of `encode`/`frozen_states`, built on first use.
        self._tokenize_fn = None
        self._embed_fns = {}

    @classmethod
    def from_preset(cls, name_or_path=EMBEDDED_PRESET, **options):
        """Builds an encoder from a preset name or a local folder.

        Args:
            name_or_path: str. `"all-minilm-l6-v2"` (embedded, offline),
                `"tiny-random"` (random, for tests), a Hugging Face or
                keras-hub folder, or a keras-hub preset name (needs a hub).
            **options: the constructor's other arguments.

        Example:
        >>> enc = TextEncoder.from_preset("tiny-random", trainable="top:1")
        """
        return cls(preset=name_or_path, **options)

    def _transformer_layers(self):
        return [l for l in self.backbone.layers if l.name.startswith("transformer_layer_")]

    def _freeze_backbone(self):
        """Marks which Keras 3 sub-layers train, per `trainable_mode`."""
        blocks = self._transformer_layers()
        if self.trainable_mode == "all":
            # The pooler dense is never used (pooling reads token outputs), so
            # it stays frozen instead of collecting no gradients.
            train = {l.name for l in self.backbone.layers if l.name != "pooled_dense"}
        elif self.trainable_mode == "none":
            train = set()
        else:
            n = int(self.trainable_mode.split(":")[1])
            train = {l.name for l in blocks[len(blocks) - n :]}
        self.backbone.trainable = True
        for layer in self.backbone.layers:
            layer.trainable = layer.name in train

    def _special_token_ids(self):
        tok = self.tokenizer
        start = getattr(tok, "cls_token_id", None)
        end = getattr(tok, "sep_token_id", None)
        if start is None:
            start = getattr(tok, "start_token_id", None)
        if end is None:
            end = getattr(tok, "end_token_id", None)
        pad = getattr(tok, "pad_token_id", None) or 0
        if start is None or end is None:
            raise ValueError(
                f"Tokenizer {type(tok).__name__} of preset {self.preset!r} has no "
                "[CLS]/[SEP] (start/end) tokens; TextEncoder supports BERT-family models."
            )
        return int(start), int(end), int(pad)

    # The bridge (Keras3BridgeMixin): tf-keras optimizers, `fit` and
    # `save_weights` see the backbone's variables; SavedModels store them once.
    _savedmodel_skips = ("_tokenize_fn", "_embed_fns")

    def _keras3_layers(self):
        return [self.backbone]

    def _weight_count_error(self, saved, expected):
        return (
            f"{self.name}: the file holds {saved} encoder weights but "
            f"preset {self.preset!r} has {expected}. Build the encoder with "
            "the preset and options it was saved with (see its get_config())."
        )

    def _weight_shape_error(self, index, variable, saved_shape):
        return (
            f"{self.name}: saved weight {index} ({variable.path}) has shape "
            f"{saved_shape}, the encoder expects {tuple(variable.shape)}. "
            "Was it saved from another preset?"
        )

    def _ragged_ids(self, texts):
        """Token ids framed by [CLS]/[SEP], one ragged row per text."""
        texts = tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace")
        pieces = self.tokenizer(texts)
        if not isinstance(pieces, tf.RaggedTensor):
            pieces = tf.ragged.constant(pieces, dtype=tf.int32)
        pieces = tf.cast(pieces, tf.int32)[:, : self.sequence_length - 2]
        batch = tf.shape(texts, out_type=tf.int64)[:1]
        start = tf.fill(tf.concat([batch, [1]], 0), self._start_id)
        end = tf.fill(tf.concat([batch, [1]], 0), self._end_id)
        return tf.concat([start, pieces, end], axis=1)

    def tokenize(self, texts):
        """Token ids `[batch, <= sequence_length]` and their padding mask."""
        ids = self._ragged_ids(texts)
        mask = tf.sequence_mask(ids.row_lengths(), dtype=tf.int32)
        return ids.to_tensor(default_value=self._pad_id), mask

    def call(self, inputs, training=None):
        texts = check_texts(inputs)
        if self.deduplicate:
            texts, back = tf.unique(texts)
        token_ids, mask = self.tokenize(texts)
        pooled = self._by_length(self._embed_tokens, token_ids, mask, training)
        if self.deduplicate:
            pooled = tf.gather(pooled, back)
        return pooled

    def _bert_training(self, training):
        return bool(training) and self.trainable_mode != "none"

    def _embed_tokens(self, token_ids, mask, training=None):
        """Pooled embeddings of padded token ids (the whole backbone)."""
        features = {
            "token_ids": token_ids,
            "segment_ids": tf.zeros_like(token_ids),
            "padding_mask": mask,
        }
        expected = getattr(self.backbone, "input", features)
        features = {k: v for k, v in features.items() if k in expected}
        outputs = self.backbone(features, training=self._bert_training(training))
        tokens = outputs["sequence_output"] if isinstance(outputs, dict) else outputs
        return self._pool(tokens, mask)

    def _pool(self, tokens, mask):
        """Pooling, projection and normalisation of token outputs."""
        tokens = tf.cast(tokens, tf.float32)
        if self.pooling == "cls":
            pooled = tokens[:, 0]
        else:
            weights = tf.cast(mask, tf.float32)[:, :, None]
            pooled = tf.reduce_sum(tokens * weights, 1) / tf.maximum(tf.reduce_sum(weights, 1), 1.0)
        if self.projection is not None:
            pooled = tf.cast(self.projection(pooled), tf.float32)
        if self.normalize:
            pooled = tf.math.l2_normalize(pooled, axis=-1)
        return pooled

    def _by_length(self, fn, values, mask, training):
        """`fn(values, mask)` over `length_buckets` chunks of similar length.

        Rows are sorted by token count, split into equal chunks, each cut to
        its own longest row, and the outputs put back in the input order.
        With one chunk the batch is only cut to its longest row.
        """
        buckets = self.length_buckets
        lengths = tf.reduce_sum(mask, 1)
        if buckets == 1:
            width = tf.reduce_max(tf.concat([lengths, [1]], 0))
            return fn(values[:, :width], mask[:, :width], training)
        order = tf.argsort(lengths, stable=True)
        # Fewer rows than buckets: repeat the last so no chunk is empty (Keras
        # layers reject empty batches); the repeats are dropped at the end.
        short = tf.maximum(buckets - tf.size(order), 0)
        order = tf.concat([order, tf.repeat(order[-1:], short)], 0)
        n = tf.size(order)
        parts = []
        for k in range(buckets):
            rows = order[n * k // buckets : n * (k + 1) // buckets]
            width = tf.reduce_max(tf.gather(lengths, rows))
            part_values = tf.gather(values, rows)[:, :width]
            parts.append(fn(part_values, tf.gather(mask, rows)[:, :width], training))
        first = tf.math.invert_permutation(order[: n - short])
        return tf.gather(tf.concat(parts, 0), first)

    @property
    def embedding_dim(self):
        """Size of the output embedding."""
        return self.output_dim or int(self.backbone.hidden_dim)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape([input_shape[0], self.embedding_dim])

    def get_config(self):
        config = super().get_config()
        config.update(
            preset=self.preset,
            sequence_length=self.sequence_length,
            pooling=self.pooling,
            normalize=self.normalize,
            output_dim=self.output_dim,
            trainable=self.trainable_mode,
            deduplicate=self.deduplicate,
            length_buckets=self.length_buckets,
        )
        return config
