"""A local development server that speaks TensorFlow Serving's REST API.

`tfllmrec serve saved_models/` answers `GET /v1/models/NAME[/versions/N][/metadata]`
and `POST /v1/models/NAME[/versions/N]:predict` for the SavedModels under a
models root (`ROOT/<name>/<version>/saved_model.pb`), so client code written
against it runs unchanged against TF Serving, which needs Docker or a Linux
package. New versions dropped into the root are picked up without a restart.

Example:
>>> from tfllmrec.serving import serve
>>> serve("saved_models", port=8501)  # doctest: +SKIP
"""

from tfllmrec.serving.loaded_model import LoadedModel
from tfllmrec.serving.model_repository import ModelRepository
from tfllmrec.serving.rest_server import RestServer, serve

__all__ = ["LoadedModel", "ModelRepository", "RestServer", "serve"]
