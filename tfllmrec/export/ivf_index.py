"""`IVFIndex`: an inverted-file index of item vectors, searched with core TensorFlow ops.

Stock TF Serving links no ScaNN or faiss ops, but an inverted file needs
only MatMul, TopKV2 and GatherV2: k-means cuts the catalogue into
partitions at export time; a query scores the partition centroids, probes
its `probe` nearest partitions and scores their items exactly.
"""

import numpy as np
import tensorflow as tf


def kmeans(vectors, partitions, iterations=20, sample_per_partition=256, seed=0, chunk=65_536):
    """Centroids `[partitions, d]` of `vectors` `[n, d]` by maximum inner product (Lloyd's steps).

    The vectors are scored against the centroids by dot product, as queries
    will be; the centroids are trained on a sample of `sample_per_partition`
    vectors per partition (faiss's default). A partition left empty takes a
    random vector of the largest one.

    Example (two well separated groups):
    >>> points = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], np.float32)
    >>> centroids = kmeans(points, 2)
    >>> np.argmax(points @ centroids.T, axis=1).tolist() in ([0, 0, 1, 1], [1, 1, 0, 0])
    True
    """
    vectors = np.asarray(vectors, np.float32)
    n = len(vectors)
    if not 1 <= partitions <= n:
        raise ValueError(f"partitions must be between 1 and the number of items ({n}), got {partitions}.")
    rng = np.random.default_rng(seed)
    train = vectors[rng.choice(n, min(n, partitions * sample_per_partition), replace=False)]
    centroids = train[rng.choice(len(train), partitions, replace=False)].copy()
    for _ in range(iterations):
        assignment = np.concatenate([np.argmax(train[i:i + chunk] @ centroids.T, axis=1)
                                     for i in range(0, len(train), chunk)])
        sums = np.zeros_like(centroids)
        np.add.at(sums, assignment, train)
        counts = np.bincount(assignment, minlength=partitions)
        for empty in np.flatnonzero(counts == 0):
            largest = np.flatnonzero(assignment == np.argmax(counts))
            sums[empty], counts[empty] = train[rng.choice(largest)], 1
        centroids = (sums / counts[:, None]).astype(np.float32)
    return centroids


def balanced_assignment(vectors, centroids, capacity, choices=8, chunk=65_536):
    """Each vector's partition: its best-scoring centroid that still has room for it.

    Partitions are padded to one size in the index (a probe is one gather of
    equal blocks), so none may hold more than `capacity` vectors. In rounds,
    every vector not yet placed asks for its next-best of `choices`
    centroids, and each centroid takes the best-scoring askers it has room
    for; the few left after the rounds go to the best centroid with room.

    Returns:
        int64 `[n]`.

    Example (capacity 2: the third vector near the first centroid moves over):
    >>> v = np.array([[1, 0], [0.9, 0.1], [0.8, 0.2], [0, 1]], np.float32)
    >>> balanced_assignment(v, np.eye(2, dtype=np.float32), capacity=2).tolist()
    [0, 0, 1, 1]
    """
    n, partitions = len(vectors), len(centroids)
    if capacity * partitions < n:
        raise ValueError(f"{partitions} partitions of {capacity} cannot hold {n} vectors.")
    choices = min(choices, partitions)
    ranked, scores = [], []
    for i in range(0, n, chunk):
        s = vectors[i:i + chunk] @ centroids.T
        top = np.argpartition(-s, choices - 1, axis=1)[:, :choices] if choices < partitions else \
            np.broadcast_to(np.arange(partitions), s.shape)
        best = np.take_along_axis(s, top, axis=1)
        order = np.argsort(-best, axis=1, kind="stable")
        ranked.append(np.take_along_axis(top, order, axis=1))
        scores.append(np.take_along_axis(best, order, axis=1))
    ranked, scores = np.concatenate(ranked), np.concatenate(scores)
    assignment, room = np.full(n, -1, np.int64), np.full(partitions, capacity, np.int64)
    for choice in range(choices):
        waiting = np.flatnonzero(assignment < 0)
        wanted = ranked[waiting, choice]
        order = np.lexsort((-scores[waiting, choice], wanted))  # by centroid, its best askers first
        wanted = wanted[order]
        place = np.arange(len(order)) - np.searchsorted(wanted, wanted)
        taken = place < room[wanted]
        assignment[waiting[order[taken]]] = wanted[taken]
        room -= np.bincount(wanted[taken], minlength=partitions)
    for vector in np.flatnonzero(assignment < 0):
        open_ = np.flatnonzero(room > 0)
        assignment[vector] = open_[np.argmax(vectors[vector] @ centroids[open_].T)]
        room[assignment[vector]] -= 1
    return assignment


def mips_keys(vectors, offsets=None):
    """Keys whose inner products with queries `[q, 1, 0]` rank items as `q . v + offset` does,
    all of one norm (1), so that partitioning them by inner product is partitioning by angle.

    Maximum inner product search is not a metric search: vectors of a larger
    norm would pull every query (and k-means, every vector) towards them, and
    a large per-item offset is such a norm. A last coordinate
    sqrt(M^2 - |x|^2) evens the norms out (Bachrach et al., RecSys 2014);
    dividing by M scales every score alike.

    Example (the second vector is twice as long; both keys have norm 1):
    >>> keys = mips_keys(np.array([[1, 0], [0, 2]], np.float32))
    >>> np.linalg.norm(keys, axis=1).round(4).tolist(), (keys[:, :2] @ [1, 1]).round(2).tolist()
    ([1.0, 1.0], [0.5, 1.0])
    """
    vectors = np.asarray(vectors, np.float32)
    width = vectors.shape[1] + (offsets is not None)
    keys = np.empty((len(vectors), width + 1), np.float32)  # one array, filled in place: catalogues are large
    keys[:, :vectors.shape[1]] = vectors
    if offsets is not None:
        keys[:, vectors.shape[1]] = offsets
    squares = np.einsum("nd,nd->n", keys[:, :width], keys[:, :width])
    top = max(float(squares.max()), 1e-24)
    keys[:, width] = np.sqrt(np.maximum(top - squares, 0))
    keys /= np.sqrt(top)
    return keys


def partition_blocks(vectors, centroids, capacity, seed=0, chunk=65_536):
    """The k-means partitions cut into blocks of at most `capacity` vectors.

    The index pads every block to one size, so a partition larger than
    `capacity` is cut by a k-means of its own members (each piece a block
    with its own centroid) rather than its surplus pushed into other
    partitions, far from where a query looks for them.

    Returns:
        (block centroids float32 `[blocks, d]`, each vector's block int64 `[n]`).

    Example (three near vectors and one far: capacity 2 cuts the first partition):
    >>> v = np.array([[1, 0], [0.95, 0.05], [0.9, 0.1], [0, 1]], np.float32)
    >>> centroids, block = partition_blocks(v, np.eye(2, dtype=np.float32), capacity=2)
    >>> len(centroids), int(np.bincount(block).max()), bool(block[3] != block[0])
    (3, 2, True)
    """
    nearest = np.concatenate([np.argmax(vectors[i:i + chunk] @ centroids.T, axis=1)
                              for i in range(0, len(vectors), chunk)])
    order = np.argsort(nearest, kind="stable")
    bounds = np.searchsorted(nearest[order], np.arange(len(centroids) + 1))
    block_centroids, block = [], np.empty(len(vectors), np.int64)
    for p in range(len(centroids)):
        members = order[bounds[p]:bounds[p + 1]]
        if len(members) <= capacity:
            if len(members):
                block[members] = len(block_centroids)
                block_centroids.append(centroids[p])
            continue
        pieces = int(np.ceil(len(members) / capacity))
        sub = kmeans(vectors[members], pieces, iterations=5, seed=seed)
        block[members] = len(block_centroids) + balanced_assignment(vectors[members], sub, capacity)
        block_centroids.extend(sub)
    return np.asarray(block_centroids, np.float32), block


class IVFIndex(tf.Module):
    """An inverted file over item vectors: k-means partitions, probed, then an exact re-score.

    A query scores the partition centroids and gathers its `probe` nearest
    partitions (padded to one size, so a probe is one gather and one batched
    matmul), scores their items with the partitions' copy of the vectors
    (`precision`: float32, or bfloat16 for half the memory traffic), and
    re-scores the best `rescore` of them exactly with `item_vectors` and the
    offsets. The exact vectors are the caller's variables: a SavedModel
    holding both keeps them once.

    Args:
        item_vectors: float variable or array `[n, d]`.
        partitions: int. Number of k-means partitions (about sqrt(n) suits);
            one larger than `slack` times the mean is cut into blocks
            (`partition_blocks`), so the index holds a few more.
        probe: int. Blocks a query scores; more than there are: all of them.
        item_offsets: float variable or array `[n]`, or None. Added to every
            item's score; they take part in the partitioning (as an extra
            coordinate a query meets with weight 1), so a probe finds what
            they lift.
        precision: str. "float32" or "bfloat16": the partitions' copy.
        rescore: int. Candidates re-scored exactly per query, at least k.
        slack: float. A partition holds at most `slack` times the mean.
        seed: int. Of the k-means sample and starting centroids.

    Example (4 items in 2 partitions; the query probes the one nearest it):
    >>> index = IVFIndex(np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], np.float32), partitions=2, probe=1)
    >>> scores, items = index.search(tf.constant([[1.0, 0.0]]), k=2)
    >>> items.numpy().tolist(), [[round(float(s), 2) for s in row] for row in scores.numpy()]
    ([[0, 1]], [[1.0, 0.9]])
    """

    def __init__(self, item_vectors, partitions, probe, item_offsets=None, precision="float32", rescore=100,
                 slack=1.25, seed=0):
        super().__init__(name="ivf_index")
        if probe < 1:
            raise ValueError(f"probe must be at least 1, got {probe}.")
        if precision not in PRECISIONS:
            raise ValueError(f"precision={precision!r}: use one of {', '.join(PRECISIONS)}.")
        self.item_vectors = _variable(item_vectors, "item_vectors")
        self.item_offsets = None if item_offsets is None else _variable(item_offsets, "item_offsets")
        vectors = mips_keys(self.item_vectors.numpy(), None if item_offsets is None else self.item_offsets.numpy())
        capacity = max(1, int(np.ceil(slack * len(vectors) / partitions)))
        centroids, block = partition_blocks(vectors, kmeans(vectors, partitions, seed=seed), capacity, seed)
        members = _members(block, len(centroids), capacity)
        probe = min(probe, len(centroids))
        self.probe, self.rescore = int(probe), int(rescore)
        self.centroids = tf.Variable(centroids, trainable=False, name="centroids")
        self.blocks = _blocks(vectors, members, precision)
        self.members = tf.Variable(members, trainable=False, name="members")

    def _keyed(self, queries):
        """Queries as `mips_keys` keys the items: [q, 1 for the offset, 0 for the norm]."""
        extra = [tf.ones_like(queries[:, :1])] if self.item_offsets is not None else []
        return tf.concat([queries, *extra, tf.zeros_like(queries[:, :1])], 1)

    def shortlist(self, queries, size):
        """Each query's `size` best candidates by the partitions' copy: item indices `[b, size']`
        (-1 where the probed partitions hold fewer items)."""
        keyed = self._keyed(queries)
        nearest = tf.math.top_k(tf.matmul(keyed, self.centroids, transpose_b=True), k=self.probe).indices
        batch = tf.shape(queries)[0]
        items = tf.reshape(tf.gather(self.members, nearest), [batch, -1])
        blocks = tf.reshape(tf.gather(self.blocks, nearest), [batch, -1, tf.shape(keyed)[1]])
        scores = tf.cast(tf.squeeze(tf.matmul(blocks, tf.cast(keyed, blocks.dtype)[:, :, None]), -1), tf.float32)
        scores = tf.where(items >= 0, scores, -np.inf)
        top = tf.math.top_k(scores, k=tf.minimum(size, tf.shape(scores)[1]))
        return tf.where(top.values > -np.inf, tf.gather(items, top.indices, batch_dims=1), -1)

    def search(self, queries, k, penalty=None, penalized=0):
        """The top `k` of each query's candidates, scored exactly: (scores `[b, k']`, item indices `[b, k']`).

        `k'` is `k`, or fewer when the probed partitions hold fewer items
        (places no item fills score -inf, item index -1).

        Args:
            queries: float tensor `[b, d]`.
            k: int scalar.
            penalty: callable(item indices `[b, m]`, one row per query) ->
                float `[b, m]` subtracted from the exact scores (seen items), or None.
            penalized: int scalar. At most this many candidates of a query
                are penalised: the shortlist is longer by as many, so the
                penalised ones cannot crowd out the k best others.
        """
        k = tf.cast(k, tf.int32)
        items = self.shortlist(queries, tf.maximum(k, self.rescore) + tf.cast(penalized, tf.int32))
        known = tf.maximum(items, 0)
        scores = tf.squeeze(tf.matmul(tf.gather(self.item_vectors, known), queries[:, :, None]), -1)
        if self.item_offsets is not None:
            scores += tf.gather(self.item_offsets, known)
        if penalty is not None:
            scores -= penalty(items)
        top = tf.math.top_k(tf.where(items >= 0, scores, -np.inf), k=tf.minimum(k, tf.shape(items)[1]))
        return top.values, tf.gather(items, top.indices, batch_dims=1)


PRECISIONS = ("float32", "bfloat16")


def _variable(value, name):
    if isinstance(value, tf.Variable):
        return value
    return tf.Variable(np.asarray(value, np.float32), trainable=False, name=name)


def _members(assignment, partitions, capacity):
    """Each block's items by place `[partitions, capacity]` (-1: a place no item fills)."""
    members = np.full((partitions, capacity), -1, np.int64)
    order = np.argsort(assignment, kind="stable")
    place = np.arange(len(order)) - np.searchsorted(assignment[order], assignment[order])
    members[assignment[order], place] = order
    return members


def _blocks(keys, members, precision, chunk=256):
    """The keys laid out by block `[blocks, capacity, d]`, as a variable of `precision`.

    Filled a few blocks at a time: a float32 copy of the whole layout would
    cost a catalogue of millions gigabytes it need not.
    """
    blocks = tf.Variable(tf.zeros(members.shape + (keys.shape[1],), precision), trainable=False, name="blocks")
    for start in range(0, len(members), chunk):
        part = members[start:start + chunk]
        values = np.where(part[..., None] >= 0, keys[np.maximum(part, 0)], 0).astype(np.float32)
        blocks[start:start + len(part)].assign(tf.cast(values, precision))
    return blocks
