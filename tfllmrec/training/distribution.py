"""Where training runs: the `tf.distribute` strategy and the dtype policy."""

import tensorflow as tf


def precision_policy(mixed_precision):
    """The tf-keras dtype policy: float16 on GPUs, bfloat16 elsewhere."""
    if not mixed_precision:
        return "float32"
    return "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"


def make_strategy(name):
    """The `tf.distribute` strategy a TrainConfig names."""
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            return tf.distribute.MirroredStrategy([d.name for d in gpus])
        # Logical CPUs: reduce on one device. CPU collectives of a second
        # strategy in the same process can reuse instance keys and abort.
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(cpus, cross_device_ops=tf.distribute.ReductionToOneDevice())
    return tf.distribute.get_strategy()
