"""A SavedModel of a `TextEncoder`: raw strings in, embeddings out."""

import tensorflow as tf

from tfllmrec.export.atomic_dir import atomic_dir
from tfllmrec.export.recommender_module import checked


class EncoderModule(tf.Module):
    """Wraps a `TextEncoder` with a `serving_default` over raw strings.

    The WordPiece tokenizer is part of the graph, so a client sends text and
    TF Serving (which links TensorFlow Text's ops) does the rest.

    Args:
        encoder: TextEncoder. The encoder to serve.

    Example:
    >>> from tfllmrec.encoders import TextEncoder
    >>> module = EncoderModule(TextEncoder.from_preset("tiny-random"))
    >>> module.encode(tf.constant(["red shoe", "blue hat"]))["embedding"].shape
    TensorShape([2, 32])
    """

    def __init__(self, encoder):
        super().__init__(name="text_encoder_module")
        self.encoder = encoder

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def encode(self, text):
        return {"embedding": self.encoder(checked(text, [None]), training=False)}


def export_text_encoder(encoder, path, overwrite=False):
    """Exports `encoder` as a SavedModel at `path`, atomically.

    Args:
        encoder: TextEncoder. The encoder to export.
        path: str or Path. The SavedModel folder to create.
        overwrite: bool. Replace an existing folder.

    Returns:
        The path, as a string.

    Example:
    >>> from tfllmrec.encoders import TextEncoder
    >>> export_text_encoder(TextEncoder.from_preset("tiny-random"), "enc/1")
    'enc/1'
    >>> served = tf.saved_model.load("enc/1").signatures["serving_default"]
    >>> served(text=tf.constant(["red shoe"]))["embedding"].shape
    TensorShape([1, 32])
    """
    module = EncoderModule(encoder)
    with atomic_dir(path, overwrite=overwrite) as tmp:
        tf.saved_model.save(module, str(tmp), signatures={"serving_default": module.encode})
    return str(path)
