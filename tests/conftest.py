"""Shared test set-up.

Two logical CPU devices are configured before TensorFlow initialises, so the
`tf.distribute.MirroredStrategy` tests run in-process on a 1-CPU host too.
"""

import os
from pathlib import Path

import pytest

import tfllmrec  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

REPO = Path(__file__).resolve().parents[1]


def shared_dir():
    """The `shared/` folder beside the checkout (fixtures and datasets)."""
    path = Path(os.environ.get("TFLLMREC_SHARED", REPO.parent / "shared"))
    if not path.is_dir():
        pytest.fail(
            f"The shared folder {path} is missing: these tests read real fixtures "
            "from it. Clone the repository beside `shared/` or set TFLLMREC_SHARED."
        )
    return path


@pytest.fixture(scope="session")
def shared():
    return shared_dir()


@pytest.fixture
def tiny_encoder():
    """Builds a tiny random BERT encoder; keyword options pass through."""
    from tfllmrec.encoders import TextEncoder

    def build(**options):
        options.setdefault("sequence_length", 32)
        return TextEncoder.from_preset("tiny-random", **options)

    return build
