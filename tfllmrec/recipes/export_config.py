"""`ExportConfig`: what a recipe's SavedModel serves."""

import dataclasses

from tfllmrec.ranges import K


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """How `tfllmrec export` builds a recipe's SavedModel.

    Args:
        top_k: int. Items `serving_default` (and `recommend_by_text`) return
            for each request. Stock TF Serving's REST API takes no optional
            inputs, and its row format stacks each input per instance, so
            the signature every client form can call takes the user ids
            alone; `recommend_k` takes a per-request `k` (columnar and gRPC
            clients; over gRPC it defaults to this value).

    Example:
    >>> ExportConfig().top_k
    10
    """

    top_k: int = 10

    def __post_init__(self):
        K.check(self.top_k, "top_k")
