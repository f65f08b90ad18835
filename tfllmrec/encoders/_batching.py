"""Length-sorted batched encoding of a `TextEncoder` (a mixin of its methods)."""

import numpy as np
import tensorflow as tf

from tfllmrec.ranges import Range

BATCH_SIZE = Range(int, 1, example=32)


class BatchedEncodingMixin:
    """`encode` and the batching behind it and `frozen_states`.

    Uses the encoder's `_embed_tokens`, `_ragged_ids`, `_pad_id`,
    `sequence_length`, `embedding_dim`, `backbone`, `_embed_fns` and
    `_tokenize_fn`.
    """

    def encode(self, texts, batch_size=32, jit_compile=False):
        """Embeds many texts in batches; returns a `[n, dim]` float32 array.

        The texts are tokenised first, batched in order of token count and
        each batch padded only to its longest text, so almost no work goes
        to padding; the result is in the input order. The defaults are the
        fastest measured on CPU (`benchmarks/encode_throughput.py`): batches
        of 32 beat 64 and 128, and XLA was slower than oneDNN's kernels.

        Args:
            texts: list of str, or a 1-D array of str/bytes.
            batch_size: int. Texts per batch.
            jit_compile: bool. Compile the encoder with XLA (one compilation
                per batch shape; may pay off on GPUs).
        """
        batch_size = BATCH_SIZE.check(batch_size, "batch_size")
        key = "xla" if jit_compile else "graph"
        if key not in self._embed_fns:
            self._embed_fns[key] = tf.function(
                lambda ids, mask: self._embed_tokens(ids, mask, training=False),
                input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2,
                jit_compile=bool(jit_compile),
            )
        step = 8 if jit_compile else 1  # few shapes for XLA to compile
        return self._batched(texts, batch_size, self._embed_fns[key], width_step=step)

    def _batched(self, texts, batch_size, fn, width_step=1, keep_padding=False):
        """`fn(ids, mask)` over length-sorted batches of `texts`, in input order."""
        texts = np.asarray(list(texts), dtype=object)
        values, lengths = self._token_rows(texts)
        n = len(texts)
        longest = int(lengths.max()) if n else 0
        order = np.argsort(lengths, kind="stable")
        out = None
        for i in range(0, n, batch_size):
            rows = order[i : i + batch_size]
            width = int(lengths[rows].max())
            width = min(-(-width // width_step) * width_step, self.sequence_length)
            ids = np.full((len(rows), width), self._pad_id, np.int32)
            mask = np.zeros((len(rows), width), np.int32)
            for j, row in enumerate(rows):
                ids[j, : lengths[row]] = values[row]
                mask[j, : lengths[row]] = 1
            result = fn(tf.constant(ids), tf.constant(mask)).numpy()
            if out is None:
                tail = result.shape[2:] if keep_padding else result.shape[1:]
                out = np.zeros((n, longest, *tail) if keep_padding else (n, *tail), np.float32)
            if keep_padding:
                out[rows, : result.shape[1]] = result[:, :longest]
            else:
                out[rows] = result
        if keep_padding:
            mask = (np.arange(longest)[None, :] < lengths[:, None]).astype(np.int32)
            if out is None:
                out = np.zeros((0, 0, int(self.backbone.hidden_dim)), np.float32)
            return out, mask
        if out is None:
            out = np.zeros((0, self.embedding_dim), np.float32)
        return out

    def _token_rows(self, texts, chunk=4096):
        """Token ids per text (framed) and their counts, tokenised in-graph."""
        if self._tokenize_fn is None:
            def tokenize(batch):
                ids = self._ragged_ids(batch)
                return ids.flat_values, ids.row_lengths()

            self._tokenize_fn = tf.function(
                tokenize, input_signature=[tf.TensorSpec([None], tf.string)]
            )
        rows, lengths = [], []
        for i in range(0, len(texts), chunk):
            part = [t if isinstance(t, (str, bytes)) else str(t) for t in texts[i : i + chunk]]
            flat, counts = self._tokenize_fn(tf.constant(part, tf.string))
            counts = counts.numpy()
            rows.extend(np.split(flat.numpy(), np.cumsum(counts)[:-1]))
            lengths.append(counts)
        lengths = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
        return rows, lengths
