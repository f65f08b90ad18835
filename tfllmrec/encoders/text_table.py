"""Frozen item-text embeddings, computed once per catalogue and cached."""

import hashlib
import io

import numpy as np

from tfllmrec.cache import cache_dir
from tfllmrec.files import write_atomic


# Part of the cache key: bump it when the encoder's outputs change (v2: Hugging
# Face text normalisation in the tokenizer, so older tables are stale).
TABLE_VERSION = "v2"


def item_text_table(texts, encoder, sequence_length, batch_size=32):
    """`[len(texts), dim]` embeddings of `texts` by a frozen encoder.

    Cached on disk by (preset, length, texts), so a second run or the
    baseline's run skips BERT entirely.

    Args:
        texts: sequence of str.
        encoder: str. Preset name or folder.
        sequence_length: int.
    """
    key = hashlib.sha256(
        "\x00".join([TABLE_VERSION, str(encoder), str(sequence_length), *map(str, texts)]).encode()
    ).hexdigest()[:24]
    path = cache_dir() / "text" / f"{key}.npy"
    if path.is_file():
        return np.load(path)
    from tfllmrec.encoders.text_encoder import TextEncoder  # only on a cache miss: BERT is slow to load

    table = TextEncoder.from_preset(encoder, sequence_length=sequence_length).encode(
        list(texts), batch_size=batch_size
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # A concurrent or killed run must never read half a file.
    buffer = io.BytesIO()
    np.save(buffer, table)
    write_atomic(path, buffer.getvalue())
    return table
