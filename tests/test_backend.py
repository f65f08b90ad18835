"""`import tfllmrec` selects tf-keras for TFRS and keeps Keras 3 for keras-hub."""

import os
import subprocess
import sys


def _run(code):
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )


def test_import_selects_tf_keras_and_keeps_keras3():
    result = _run(
        "import tfllmrec, tensorflow as tf, keras\n"
        "print(tf.keras.__name__.split('.')[0], keras.__version__.split('.')[0])"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["tf_keras", "3"]


def test_tensorflow_imported_first_but_keras_untouched_still_works():
    result = _run(
        "import tensorflow as tf\nimport tfllmrec\nprint(tf.keras.__name__.split('.')[0])"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "tf_keras"


def test_keras3_already_bound_is_a_clear_error():
    result = _run("import tensorflow as tf\ntf.keras.layers\nimport tfllmrec")
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "Import tfllmrec before TensorFlow" in result.stderr
    assert "TF_USE_LEGACY_KERAS=1" in result.stderr


def test_conflicting_env_value_is_a_clear_error():
    env = dict(os.environ, TF_USE_LEGACY_KERAS="0")
    result = subprocess.run(
        [sys.executable, "-c", "import tfllmrec"], capture_output=True, text=True, env=env
    )
    assert result.returncode != 0
    assert "set to '0'" in result.stderr
