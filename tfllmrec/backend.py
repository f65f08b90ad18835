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


def start_tensorflow(verbose=False):
    """Imports TensorFlow and finds its devices, hiding its C++ start-up lines.

    TensorFlow's native start-up prints to the process's stderr before any
    Python logging setting applies (absl's "All log messages before
    absl::InitializeLog()", oneDNN and CUDA-driver notices, and on a
    machine without a GPU `failed call to cuInit`, which reads as an error
    but is not one). They are captured at the file-descriptor level and
    shown only if the start-up fails; later C++ logs below ERROR stay off
    (`TF_CPP_MIN_LOG_LEVEL`, unless set by the user). `verbose=True` (the
    CLI's `--verbose`) leaves everything as TensorFlow prints it.
    """
    if verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        import tensorflow as tf

        tf.config.list_physical_devices()
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # the CUDA probe happens here
            tf.get_logger().setLevel("ERROR")  # deprecation notices are not for a CLI user
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
