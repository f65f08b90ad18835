"""`TextRecommenderModule`: the full export, with free-text signatures."""

import numpy as np
import tensorflow as tf

from tfllmrec.export.recommender_module import K, RecommenderModule, checked, checked_k
from tfllmrec.towers.text_placement import neighbour_mean, place_by_text, search_scores


QUERY = tf.TensorSpec([None], tf.string, name="query")


class TextRecommenderModule(RecommenderModule):
    """`RecommenderModule` plus the text path: search and new-item indexing.

    Adds the text encoder (WordPiece tokenizer in the graph) and the item
    tower's own text MLP layer (`ItemTower.text_mlp`, placed by
    `place_by_text` as the tower places a new item), mapping raw text into
    the item space:
    - `recommend_by_text(query: string [batch])` -> `item_ids`, `scores`
      `[batch, top_k]`, like `serving_default`: a search over
      `search_vectors`, the items placed by their text alone as the query
      is; `recommend_by_text_k(query, k)` takes a per-request k, as
      `recommend_k` does;
    - `encode_items(item_text: string [batch])` -> `embedding`
      `[batch, dim]`: vectors for new (cold-start) items, comparable with
      the catalogue's `item_vectors`, without retraining: by the text MLP, or,
      for a model with `cold_neighbors`, among their nearest catalogue items
      in text space;
    - `encode_text(text: string [batch])` -> `embedding` `[batch, dim]`: a
      text placed by its text alone, as `recommend_by_text` places its query
      and `search_vectors` its items: a client-side text index of new items
      uses these (the same as `encode_items` without `cold_neighbors`).

    Args:
        encoder: TextEncoder. The run's (frozen) text encoder.
        text_mlp: tf-keras layer. The trained item tower's `text_mlp`.
        *args, **kwargs: `RecommenderModule`'s arguments.
        search_vectors: float array `[num_items, dim]` or None. What
            `recommend_by_text` ranks (`TrainedRun.search_vectors`); None:
            the item vectors.
        neighbors: tuple or None. `(donor_texts [n, text_dim], donor_vectors
            [n, dim], k, temperature)`: `encode_items` places a new item at
            the softmax(cosine / temperature)-weighted mean of the vectors of
            its k nearest donors by text (`ItemTower.new_item_vectors`);
            None: by the text MLP.
        search_weights: (cosine, collaborative, popularity) weights of
            `recommend_by_text` (`SearchConfig`; `search_scores`, as
            `TrainedRun.recommend_for_text` scores). Popularity is
            log(1 + `popularity`).
        search_embeddings: float array `[num_items, text_dim]` or None: the
            items' encoder embeddings (`TrainedRun.search_embeddings`),
            needed with a cosine weight.

    Every input is checked in the graph, as `RecommenderModule`'s are.

    Example (a random tiny BERT and text MLP, two items):
    >>> from tfllmrec.encoders import TextEncoder
    >>> encoder = TextEncoder.from_preset("tiny-random", sequence_length=16)
    >>> mlp = tf.keras.Sequential([tf.keras.layers.Dense(2)])
    >>> module = TextRecommenderModule(encoder, mlp, ["u1"], ["a", "b"], np.ones((1, 2)), np.eye(2),
    ...                                [[]], np.ones(2), top_k=1)
    >>> module.encode_items(tf.constant(["A new film (2026). Drama"]))["embedding"].shape
    TensorShape([1, 2])
    >>> module.recommend_by_text_k(tf.constant(["a film", "a book"]), tf.constant(2))["item_ids"].shape
    TensorShape([2, 2])
    """

    has_text = True

    def __init__(self, encoder, text_mlp, *args, search_vectors=None, neighbors=None, search_weights=(0.0, 1.0, 0.0),
                 search_embeddings=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.search_weights = tuple(float(w) for w in search_weights)
        self.search_embeddings = None
        if self.search_weights[0]:
            if search_embeddings is None or len(search_embeddings) != int(self.item_vectors.shape[0]):
                raise ValueError("A cosine search weight needs search_embeddings, one row per item.")
            self.search_embeddings = tf.Variable(np.asarray(search_embeddings, np.float32), trainable=False,
                                                 name="search_embeddings")
        self.neighbors = None
        if neighbors is not None:
            texts, vectors, k, temperature = neighbors
            texts = np.asarray(texts, np.float32)
            if not len(texts) or len(texts) != len(vectors):
                raise ValueError(f"neighbors needs as many donor texts as donor vectors, at least one; "
                                 f"got {len(texts)} and {len(vectors)}.")
            self.neighbor_texts = tf.Variable(texts, trainable=False, name="neighbor_texts")
            self.neighbor_vectors = tf.Variable(np.asarray(vectors, np.float32), trainable=False,
                                                name="neighbor_vectors")
            self.neighbors = (min(int(k), len(texts)), float(temperature))
        self.search_vectors = self.item_vectors
        if search_vectors is not None:
            self.search_vectors = tf.Variable(np.asarray(search_vectors, np.float32), trainable=False)
        self.encoder = encoder
        self.text_mlp = text_mlp

        def recommend_by_text_k(query, k=tf.constant(self.top_k)):
            return self._search(checked(query, [None]), checked_k(k))

        self.recommend_by_text_k = tf.function(recommend_by_text_k, input_signature=[QUERY, K])

    def _text_vectors(self, texts):
        return place_by_text(self.text_mlp, self.encoder(texts, training=False))

    @tf.function(input_signature=[QUERY])
    def recommend_by_text(self, query):
        return self._search(checked(query, [None]), self.top_k)

    def _search(self, query, k):
        embeddings = self.encoder(query, training=False)
        scores = search_scores(self.search_weights, place_by_text(self.text_mlp, embeddings), self.search_vectors,
                               embeddings, self.search_embeddings, tf.math.log1p(self.popularity))
        return self._top_k(scores, k)

    def _placed(self, embeddings):
        if self.neighbors is None:
            return place_by_text(self.text_mlp, embeddings)
        k, temperature = self.neighbors
        vectors = neighbour_mean(embeddings, self.neighbor_texts,
                                 lambda indices: tf.gather(self.neighbor_vectors, indices), k, temperature)
        return tf.math.l2_normalize(vectors, -1)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="item_text")])
    def encode_items(self, item_text):
        embeddings = self.encoder(checked(item_text, [None]), training=False)
        return {"embedding": self._placed(embeddings)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def encode_text(self, text):
        return {"embedding": self._text_vectors(checked(text, [None]))}

    def signatures(self):
        """The signature map for `tf.saved_model.save`."""
        return dict(super().signatures(), recommend_by_text=self.recommend_by_text,
                    recommend_by_text_k=self.recommend_by_text_k, encode_items=self.encode_items,
                    encode_text=self.encode_text)
