"""A SavedModel of a `TextEncoder`: raw strings in, embeddings out."""

import tensorflow as tf

from tfllmrec.export.atomic_dir import atomic_dir


class EncoderModule(tf.Module):
    """Wraps a `TextEncoder` with a `serving_default` over raw strings.

    The WordPiece tokenizer is part of the graph, so a client sends text and
    TF Serving (which links TensorFlow Text's ops) does the rest.

    Args:
        encoder: TextEncoder. The encoder to serve.

    Example:
    >>> module = EncoderModule(TextEncoder.from_preset("tiny-random"))
    >>> module.encode(tf.constant(["red shoe"]))["embedding"].shape
    TensorShape([1, 32])
    """

    def __init__(self, encoder):
        super().__init__(name="text_encoder_module")
        self.encoder = encoder

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def encode(self, text):
        return {"embedding": self.encoder(text, training=False)}


def export_text_encoder(encoder, path, overwrite=False):
    """Exports `encoder` as a SavedModel at `path`, atomically.

    Args:
        encoder: TextEncoder. The encoder to export.
        path: str or Path. The SavedModel folder to create.
        overwrite: bool. Replace an existing folder.

    Returns:
        The path, as a string.

    Example:
    >>> export_text_encoder(TextEncoder.from_preset("tiny-random"), "/tmp/enc/1")
    '/tmp/enc/1'
    """
    module = EncoderModule(encoder)
    with atomic_dir(path, overwrite=overwrite) as tmp:
        tf.saved_model.save(module, str(tmp), signatures={"serving_default": module.encode})
    return str(path)
