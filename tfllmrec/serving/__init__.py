"""A development server that answers as stock TensorFlow Serving 2.20 does, over REST (8501) and gRPC (8500),
for the SavedModels of a models root (`ROOT/<name>/<version>/saved_model.pb`), picking up new versions as they land.
"""

from tfllmrec.serving.loaded_model import LoadedModel
from tfllmrec.serving.model_repository import ModelRepository
from tfllmrec.serving.rest_server import RestServer, serve

__all__ = ["LoadedModel", "ModelRepository", "RestServer", "serve"]
