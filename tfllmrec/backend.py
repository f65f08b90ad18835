"""Process-wide Keras 2 / Keras 3 set-up, done once on `import tfllmrec`."""

import os
import sys

_FIX = (
    "Import tfllmrec before TensorFlow, or set TF_USE_LEGACY_KERAS=1 in the "
    "environment before starting Python (and `pip install tf-keras`)."
)


def ensure_legacy_keras():
    """Makes `tf.keras` tf-keras (Keras 2) and checks it took effect.

    TensorFlow reads `TF_USE_LEGACY_KERAS` lazily, on the first access to
    `tf.keras`, so setting it still works when TensorFlow was imported but
    `tf.keras` was not yet touched. Once `tf.keras` resolved to Keras 3 it
    cannot change in this process.

    Raises:
        ImportError: TensorFlow already bound `tf.keras` to Keras 3.
    """
    if os.environ.get("TF_USE_LEGACY_KERAS") not in (None, "1", "true", "True"):
        raise ImportError(
            "tfllmrec needs TF_USE_LEGACY_KERAS=1 (TFRS runs on tf-keras), but "
            f"it is set to {os.environ['TF_USE_LEGACY_KERAS']!r}. Unset it or "
            "set it to 1."
        )
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    if "tensorflow" not in sys.modules:
        return
    import tensorflow as tf

    module = getattr(tf.keras, "__name__", "")
    if not module.startswith("tf_keras"):
        raise ImportError(
            "TensorFlow was imported before tfllmrec and already uses Keras 3 "
            f"as tf.keras ({module}); TFRS needs tf-keras there. " + _FIX
        )
