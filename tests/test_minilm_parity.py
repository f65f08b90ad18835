"""The embedded all-MiniLM-L6-v2 matches sentence-transformers, text by text."""

import json

import numpy as np
import pytest

from tfllmrec.encoders import TextEncoder


@pytest.mark.parametrize("length", [32, 128])
def test_matches_sentence_transformers_reference(shared, length):
    reference = json.loads((shared / "fixtures" / f"minilm_reference_len{length}.json").read_text())
    assert reference["max_seq_length"] == length
    enc = TextEncoder.from_preset(
        "all-minilm-l6-v2", sequence_length=length, pooling="mean", normalize=True
    )
    ours = enc.encode(reference["texts"], batch_size=8)
    ref = np.asarray(reference["embeddings"], np.float32)
    assert ours.shape == ref.shape
    for text, a, b in zip(reference["texts"], ours, ref):
        cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
        assert cosine >= 0.9999, f"{text[:60]!r}: cosine {cosine:.6f}"


def test_embedded_defaults_follow_original_pipeline():
    enc = TextEncoder.from_preset("all-minilm-l6-v2")
    assert (enc.pooling, enc.normalize, enc.output_dim) == ("mean", True, None)
    assert enc.sequence_length == 256  # sentence-transformers' max_seq_length
    assert enc.embedding_dim == 384 and enc.num_layers == 6
    assert enc.trainable_weights == []
