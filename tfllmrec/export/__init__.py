"""Export to SavedModel for TF Serving."""

from tfllmrec.export.atomic_dir import atomic_dir
from tfllmrec.export.encoder_module import EncoderModule, export_text_encoder

__all__ = ["EncoderModule", "atomic_dir", "export_text_encoder"]
