"""`ItemCatalogue`: the items a `TrainedRun` ranks, its training catalogue then items added after training."""

import numpy as np
import tensorflow as tf

from tfllmrec.recipes.new_items import check_new_items


class ItemCatalogue:
    """For `TrainedRun`: its items' vectors, offsets and counts, and `add_items` to place new ones by their text.

    Reads the run's `model`, `config`, `seen` and `_encode`, and extends its
    `item_ids` and `item_texts` as items are added. The class that uses it
    calls `_start_catalogue()` once its model is restored.
    """

    def _start_catalogue(self):
        """No added item yet and no vector computed; `__init__` calls it once the model is restored."""
        # Items added after training (`add_items`) follow the catalogue.
        self.num_catalogue_items = len(self.item_ids)
        # Added items' vectors: "full" (how they rank for users) and "text"
        # (text alone, what a free-text search compares).
        self._new_vectors = {kind: np.zeros((0, self.model.embedding_dim), np.float32)
                             for kind in ("full", "text")}
        self._new_embeddings = np.zeros((0, self.model.text_dim or 0), np.float32)
        # The catalogue's vectors, computed on first use: the weights never change after
        # loading, and each recommendation would otherwise rerun the item tower.
        self._catalogue = {}

    def add_items(self, item_ids, texts):
        """Adds items that were not in training, placed by their text alone.

        Each new item gets the vector the trained item tower gives an item
        without a trained id (what the held-out items of the cold-start
        evaluation got): the text MLP over its frozen encoder embedding, or
        with `model.cold_neighbors`, the mean vector of its nearest trained
        catalogue items in the encoder's text space. Nothing
        is retrained; `recommend_for_user`, `recommend_for_text` and an
        export of this run (`build_module`) then rank them with the
        catalogue. Write the texts the way the catalogue's are written
        (`run.item_texts`), e.g. "Title (year). Genres" for `video`.

        Args:
            item_ids: sequence of str. New, distinct ids.
            texts: sequence of str. One non-empty text per id.

        Raises:
            ConfigError: the run has no text path, an id is already known or
                given twice, a text is empty, or the two lengths differ.
        """
        item_ids = [str(i) for i in item_ids]
        texts = [str(t) for t in texts]
        check_new_items(item_ids, texts, self.item_ids, self.config.model.use_text)
        embeddings = self._encode(texts)
        tower = self.model.item_tower
        vectors = {"full": tower.new_item_vectors(embeddings).numpy(),
                   "text": tower.text_only_vectors(embeddings).numpy()}
        self._new_embeddings = np.concatenate([self._new_embeddings, embeddings.numpy()])
        self.item_ids = np.concatenate([self.item_ids, np.asarray(item_ids, dtype=str)])
        self.item_texts = np.concatenate([self.item_texts, np.asarray(texts, dtype=str)])
        for kind, new in vectors.items():
            self._new_vectors[kind] = np.concatenate([self._new_vectors[kind], new])

    def add_items_from_file(self, path, delimiter=None):
        """`add_items` from a CSV/TSV/Parquet file: `item_id` plus `text`.

        Instead of `text`, the file may hold the recipe's `data.text_fields`
        (joined as the catalogue's texts were). Returns the number added.
        """
        from tfllmrec.data.tabular import items_from_table, read_table

        raw = read_table(path, delimiter)
        # A `text` column as written in the catalogue, or the recipe's own fields.
        fields = ["text"] if "text" in raw.columns else list(self.config.data.text_fields) or ["text"]
        items = items_from_table(raw, path, "item_id", fields)
        self.add_items(items.ids, items.texts())
        return len(items)

    @property
    def num_added_items(self):
        """How many items `add_items` added after the catalogue."""
        return len(self._new_vectors["full"])

    def item_vectors(self):
        """`[num_items, dim]` vectors of the catalogue, then of added items."""
        return self._with_new_items("full")

    def search_vectors(self):
        """`[num_items, dim]` text-only vectors of the catalogue, then of added items.

        A free-text query is placed by its text alone, so it is compared with
        items placed the same way: against a hybrid model's id + text
        vectors, popular co-bought items outrank the ones the words describe
        (on Amazon Office an item's own text found it first 24% of the time
        that way, 100% this way). For a text-only model these are
        `item_vectors()`.
        """
        return self._with_new_items("text")

    def search_embeddings(self):
        """`[num_items, text_dim]` encoder embeddings of the catalogue's texts
        (the model's text table), then of added items: a search's cosine part."""
        table = self.model.item_tower.text_table.numpy()
        return np.concatenate([table, self._new_embeddings]) if self.num_added_items else table

    def item_offsets(self):
        """Per-item score offsets (`model.ctr_prior_weight`), catalogue then added items; or None.

        An added item gets the offset of an item never shown in training.
        """
        if not self.model.item_bias:
            return None
        if "offsets" not in self._catalogue:  # read once, like the vectors: not per request
            offsets = self.model.offsets()
            offsets.setflags(write=False)
            self._catalogue["offsets"] = offsets
        if not self.num_added_items:
            return self._catalogue["offsets"]
        added = np.full(self.num_added_items, float(self.model.new_item_offset.numpy()), np.float32)
        return np.concatenate([self._catalogue["offsets"], added])

    def item_counts(self):
        """`[num_items]` float32: the users who interacted with each item (0 for added items)."""
        seen = [np.asarray(sorted(set(items)), np.int64) for items in self.seen]
        return np.bincount(np.concatenate(seen or [np.zeros(0, np.int64)]),
                           minlength=len(self.item_ids)).astype(np.float32)

    def _with_new_items(self, kind):
        catalogue = self._catalogue_vectors(kind)
        # Without added items, no per-request copy of the catalogue.
        return np.concatenate([catalogue, self._new_vectors[kind]]) if self.num_added_items else catalogue

    def _catalogue_vectors(self, kind):
        if not self.model.use_item_ids:
            kind = "full"  # without ids an item's text-only vector is its vector
        if kind not in self._catalogue:
            tower = self.model.item_tower
            vectors = (self.model.candidates() if kind == "full" else
                       tower.text_only(tf.range(self.num_catalogue_items))).numpy()
            vectors.setflags(write=False)  # handed out uncopied: a caller's write would corrupt the cache
            self._catalogue[kind] = vectors
        return self._catalogue[kind]
