"""Export to SavedModel for TF Serving."""

from tfllmrec.export.atomic_dir import atomic_dir
from tfllmrec.export.encoder_module import EncoderModule, export_text_encoder
from tfllmrec.export.history_module import HistoryRecommenderModule
from tfllmrec.export.ivf_index import IVFIndex, kmeans
from tfllmrec.export.model_server_config import write_models_config
from tfllmrec.export.op_check import classify_ops, saved_model_ops
from tfllmrec.export.recommender_module import RecommenderModule
from tfllmrec.export.text_recommender_module import TextRecommenderModule
from tfllmrec.export.warmup import read_warmup_requests, write_warmup_requests

__all__ = [
    "EncoderModule", "HistoryRecommenderModule", "IVFIndex", "RecommenderModule", "atomic_dir", "classify_ops", "export_text_encoder", "kmeans",
    "TextRecommenderModule", "read_warmup_requests", "saved_model_ops", "write_models_config",
    "write_warmup_requests",
]
