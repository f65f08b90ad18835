"""tfllmrec: text-aware recommenders for TensorFlow Recommenders.

Importing this package selects tf-keras (Keras 2) as `tf.keras`, which TFRS
0.7.7 needs, while `import keras` stays Keras 3 for keras-hub. That choice is
read once, when TensorFlow first resolves `tf.keras`, so it is made here,
before anything else imports TensorFlow.
"""

from tfllmrec.backend import ensure_legacy_keras

ensure_legacy_keras()

__version__ = "0.1.0"
