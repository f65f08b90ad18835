"""`TextRecommenderModule`: the full export, with free-text signatures."""

import numpy as np
import tensorflow as tf

from tfllmrec.export.recommender_module import DEFAULT_K, RecommenderModule


class TextRecommenderModule(RecommenderModule):
    """`RecommenderModule` plus the text path: search and new-item indexing.

    Adds the text encoder (WordPiece tokenizer in the graph) and the item
    tower's text MLP, mapping raw text into the item space:
    - `recommend_by_text(query: string [batch], k: int32 = 10)` ->
      `item_ids`, `scores`, like `serving_default`: a search over
      `search_vectors`, the items placed by their text alone as the query is;
    - `encode_items(item_text: string [batch])` -> `embedding`
      `[batch, dim]`: vectors for new (cold-start) items, comparable with
      the catalogue's, without retraining.

    Args:
        encoder: TextEncoder. The run's (frozen) text encoder.
        text_mlp: list of (kernel, bias, activation name or None).
        *args, **kwargs: `RecommenderModule`'s arguments.
        search_vectors: float array `[num_items, dim]` or None. What
            `recommend_by_text` ranks (`TrainedRun.search_vectors`); None:
            the item vectors.

    Example:
    >>> module = TextRecommenderModule(encoder, mlp, user_ids, item_ids, ...)
    >>> module.encode_items(tf.constant(["A new film (2026). Drama"]))
    """

    has_text = True

    def __init__(self, encoder, text_mlp, *args, search_vectors=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.search_vectors = self.item_vectors
        if search_vectors is not None:
            self.search_vectors = tf.Variable(np.asarray(search_vectors, np.float32), trainable=False)
        self.encoder = encoder
        self.text_layers = []
        for kernel, bias, activation in text_mlp:
            if activation not in (None, "linear", "gelu", "relu"):
                raise ValueError(f"text MLP activation {activation!r} is not supported in export.")
            self.text_layers.append((
                tf.Variable(np.asarray(kernel, np.float32), trainable=False),
                tf.Variable(np.asarray(bias, np.float32), trainable=False),
                activation,
            ))

    def _text_vectors(self, texts):
        x = self.encoder(texts, training=False)
        for kernel, bias, activation in self.text_layers:
            x = tf.matmul(x, kernel) + bias
            if activation == "gelu":
                x = tf.nn.gelu(x, approximate=False)
            elif activation == "relu":
                x = tf.nn.relu(x)
        return tf.math.l2_normalize(x, -1)

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name="query"),
        tf.TensorSpec([], tf.int32, name="k"),
    ])
    def recommend_by_text(self, query, k=tf.constant(DEFAULT_K)):
        scores = tf.matmul(self._text_vectors(query), self.search_vectors, transpose_b=True)
        return self._top_k(scores, k)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="item_text")])
    def encode_items(self, item_text):
        return {"embedding": self._text_vectors(item_text)}

    def signatures(self):
        """The signature map for `tf.saved_model.save`."""
        return dict(super().signatures(), recommend_by_text=self.recommend_by_text,
                    encode_items=self.encode_items)
