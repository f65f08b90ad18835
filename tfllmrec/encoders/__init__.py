"""Text encoders: keras-hub BERT backbones as tf-keras layers."""

from tfllmrec.encoders.presets import EMBEDDED_PRESET, TINY_RANDOM_PRESET
from tfllmrec.encoders.text_encoder import TextEncoder
from tfllmrec.encoders.text_table import item_text_inputs, item_text_table

__all__ = ["TextEncoder", "EMBEDDED_PRESET", "TINY_RANDOM_PRESET", "item_text_inputs", "item_text_table"]
