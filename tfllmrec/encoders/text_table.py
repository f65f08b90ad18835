"""Item-text arrays computed once per catalogue and cached on disk: frozen
embeddings (`item_text_table`) and a fine-tuned encoder's inputs (`item_text_inputs`)."""

import hashlib
import io

import numpy as np

from tfllmrec.cache import cache_dir
from tfllmrec.files import write_atomic


# Part of the cache key: bump it when the encoder's outputs change (v2: Hugging
# Face text normalisation in the tokenizer, so older tables are stale).
TABLE_VERSION = "v2"


def _cached(parts, texts, compute):
    """`compute()`'s array, or dict of arrays, cached under a key of `parts` and `texts`."""
    key = hashlib.sha256("\x00".join([TABLE_VERSION, *map(str, parts), *map(str, texts)]).encode()).hexdigest()[:24]
    for suffix in (".npy", ".npz"):
        path = cache_dir() / "text" / f"{key}{suffix}"
        if path.is_file():
            with open(path, "rb") as file:
                stored = np.load(io.BytesIO(file.read()))
            return stored if suffix == ".npy" else {name: stored[name] for name in stored.files}
    arrays = compute()
    path = cache_dir() / "text" / f"{key}{'.npy' if isinstance(arrays, np.ndarray) else '.npz'}"
    path.parent.mkdir(parents=True, exist_ok=True)
    # A concurrent or killed run must never read half a file.
    buffer = io.BytesIO()
    if isinstance(arrays, np.ndarray):
        np.save(buffer, arrays)
    else:
        np.savez(buffer, **arrays)
    write_atomic(path, buffer.getvalue())
    return arrays


def item_text_table(texts, encoder, sequence_length, batch_size=32):
    """`[len(texts), dim]` embeddings of `texts` by a frozen encoder.

    Cached on disk by (preset, length, texts), so a second run or the
    baseline's run skips BERT entirely.

    Args:
        texts: sequence of str.
        encoder: str. Preset name or folder.
        sequence_length: int.
    """
    def compute():
        from tfllmrec.encoders.text_encoder import TextEncoder  # only on a cache miss: BERT is slow to load

        model = TextEncoder.from_preset(encoder, sequence_length=sequence_length)
        return model.encode(list(texts), batch_size=batch_size)

    return _cached((encoder, sequence_length), texts, compute)


def item_text_inputs(texts, live_text):
    """`(values, mask)`: what a `LiveItemText` needs per item text
    (`LiveItemText.inputs_of`: the frozen layers' outputs, or token ids),
    cached on disk by (preset, length, trainable mode, texts).

    Computed with the encoder's pretrained weights: call it before training.
    """
    encoder = live_text.encoder
    parts = ("inputs", encoder.preset, encoder.sequence_length, encoder.trainable_mode)
    arrays = _cached(parts, texts, lambda: dict(zip(("values", "mask"), live_text.inputs_of(list(texts)))))
    return arrays["values"], arrays["mask"]
