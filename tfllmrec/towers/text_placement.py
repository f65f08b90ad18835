"""Where an item or query known only by its text lands (the text MLP, or its
nearest known items), and how a free-text query scores the items.

One definition each, shared by `ItemTower` and the export
(`TextRecommenderModule`), so a served item or query lands where
`TrainedRun` puts it.
"""

import numpy as np
import tensorflow as tf


def neighbour_mean(embeddings, keys, vectors_of, k, temperature, donors=None):
    """Softmax(cosine / temperature)-weighted mean of the vectors of each
    embedding's k nearest keys: `[n, dim]`, not normalised.

    The one definition of neighbour placement, shared by `ItemTower` and the
    export (`TextRecommenderModule`), so the two cannot drift apart.

    Args:
        embeddings: float tensor `[n, text_dim]`: the texts to place.
        keys: float tensor `[m, text_dim]`: the candidates' text embeddings.
        vectors_of: callable from key indices `[n * k]` to their vectors
            `[n * k, dim]`.
        k: int. Neighbours per text (at most m).
        temperature: float.
        donors: float tensor `[m]` or None: 1 for keys that may be chosen.

    Example (a text equally near two keys gets the mean of their vectors):
    >>> neighbour_mean(tf.ones([1, 2]), tf.eye(2), lambda i: tf.gather(tf.eye(2), i), 2, 0.1).numpy()
    array([[0.5, 0.5]], dtype=float32)
    """
    similarity = tf.matmul(tf.math.l2_normalize(tf.cast(embeddings, tf.float32), -1),
                           tf.math.l2_normalize(tf.cast(keys, tf.float32), -1), transpose_b=True)
    if donors is not None:
        similarity = tf.where(donors[None, :] > 0.5, similarity, -np.inf)
    top = tf.math.top_k(similarity, k=k)
    weights = tf.nn.softmax(top.values / temperature, -1)
    chosen = vectors_of(tf.reshape(top.indices, [-1]))
    chosen = tf.reshape(chosen, [-1, k, tf.shape(chosen)[-1]])
    return tf.reduce_sum(chosen * tf.cast(weights, chosen.dtype)[..., None], 1)


def place_by_text(text_mlp, text_embeddings, normalize=True):
    """Vectors `[n, dim]` of items known only by their text embeddings.

    The one definition of the text path at inference, shared by `ItemTower`
    and the export (which holds the tower's own `text_mlp` layer), so a
    served text query lands where `TrainedRun` puts it.

    Example:
    >>> mlp = tf.keras.Sequential([tf.keras.layers.Dense(2, kernel_initializer="ones")])
    >>> place_by_text(mlp, tf.constant([[3.0, 1.0]])).numpy().round(4)
    array([[0.7071, 0.7071]], dtype=float32)
    """
    vectors = tf.cast(text_mlp(text_embeddings, training=False), tf.float32)
    return tf.math.l2_normalize(vectors, -1) if normalize else vectors


def _standardised(scores):
    mean, variance = tf.nn.moments(scores, axes=[-1], keepdims=True)
    return (scores - mean) / tf.maximum(tf.sqrt(variance), 1e-6)


def search_scores(weights, placed_queries, search_vectors, query_embeddings=None, item_embeddings=None,
                  log_popularity=None):
    """Scores `[q, n]` of a free-text search: the one definition, shared by
    `TrainedRun.recommend_for_text` and the export's `recommend_by_text`.

    Args:
        weights: (cosine, collaborative, popularity) weights (`SearchConfig`).
        placed_queries: float `[q, dim]`: the queries placed by the text path.
        search_vectors: float `[n, dim]`: the items placed the same way.
        query_embeddings, item_embeddings: float `[q, text_dim]`, `[n, text_dim]`:
            the encoder's embeddings (needed with a cosine weight).
        log_popularity: float `[n]` (needed with a popularity weight).

    With the collaborative weight alone, the raw dot products; else the
    weighted sum of each part standardised over the items per query.

    Example (popularity alone breaks the tie of two equally close items):
    >>> search_scores((0.0, 1.0, 1.0), tf.ones([1, 2]), tf.eye(2), log_popularity=tf.constant([0.0, 1.0])).numpy()
    array([[-1.,  1.]], dtype=float32)
    """
    cosine, collaborative, popularity = (float(w) for w in weights)
    dots = tf.matmul(tf.cast(placed_queries, tf.float32), tf.cast(search_vectors, tf.float32), transpose_b=True)
    if not cosine and not popularity:
        return dots
    total = collaborative * _standardised(dots) if collaborative else tf.zeros_like(dots)
    if cosine:
        similarity = tf.matmul(tf.math.l2_normalize(tf.cast(query_embeddings, tf.float32), -1),
                               tf.math.l2_normalize(tf.cast(item_embeddings, tf.float32), -1), transpose_b=True)
        total += cosine * _standardised(similarity)
    if popularity:
        total += popularity * _standardised(tf.cast(log_popularity, tf.float32)[None, :])
    return total
