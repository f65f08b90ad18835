"""Where training runs: the `tf.distribute` strategy and the dtype policy."""

import collections
import contextlib
import json
import os

import tensorflow as tf

from tfllmrec.errors import ConfigError

TF_CONFIG_EXAMPLE = (
    'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
    '"task": {"type": "worker", "index": 0}}\''
)
_TF_CONFIG_HELP = (
    "Set it on every machine to the same cluster and that machine's own task, e.g. "
    f"{TF_CONFIG_EXAMPLE} on host1 and index 1 on host2 (see docs/scaling.md)."
)

# One MultiWorkerMirroredStrategy per process: its collective ops are set up
# once, at program start, and every model of a run trains under it.
_multi_worker = None

Worker = collections.namedtuple("Worker", "task_type task_index worker_id num_workers is_chief")


def precision_policy(mixed_precision):
    """The tf-keras dtype policy: float16 on GPUs, bfloat16 elsewhere."""
    if not mixed_precision:
        return "float32"
    return "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"


def make_strategy(name):
    """The `tf.distribute` strategy a TrainConfig names.

    "multi_worker" is `tf.distribute.MultiWorkerMirroredStrategy` over the
    cluster `TF_CONFIG` describes, created on the first call and returned
    by every later one. TensorFlow configures its collective ops when the
    context starts, so the first call must come before any other
    TensorFlow op of the process (`tfllmrec train` makes it first thing).

    Raises:
        ConfigError: "multi_worker" with TF_CONFIG unset or malformed, or
            first asked for after TensorFlow has started.
    """
    if name == "multi_worker":
        return multi_worker_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            return tf.distribute.MirroredStrategy([d.name for d in gpus])
        # Logical CPUs: reduce on one device. CPU collectives of a second
        # strategy in the same process can reuse instance keys and abort.
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(cpus, cross_device_ops=tf.distribute.ReductionToOneDevice())
    return tf.distribute.get_strategy()


def multi_worker_strategy():
    """This process's `MultiWorkerMirroredStrategy` (created once)."""
    global _multi_worker
    if _multi_worker is None:
        tf_config_worker()  # a clear error before TensorFlow's own
        try:
            _multi_worker = tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as e:
            if "program startup" not in str(e):
                raise
            raise ConfigError(
                "strategy='multi_worker' must be set up before TensorFlow runs anything "
                "in the process: call tfllmrec.training.distribution.make_strategy("
                "'multi_worker') at program start (`tfllmrec train ... --strategy "
                "multi_worker` does)."
            ) from e
    return _multi_worker


def tf_config_worker(environ=None):
    """This process's place in the cluster `TF_CONFIG` describes.

    The chief is the "chief" task if the cluster has one, else worker 0.
    A cluster of one worker is valid (it trains alone, over its devices).

    Returns:
        Worker(task_type, task_index, worker_id, num_workers, is_chief),
        `worker_id` counting from 0 (the chief) over chief and workers.

    Raises:
        ConfigError: TF_CONFIG unset, not JSON, or not a chief/worker
            cluster with this process's task in it.
    """
    raw = (os.environ if environ is None else environ).get("TF_CONFIG", "")
    if not raw.strip():
        raise ConfigError(f"strategy='multi_worker' needs the TF_CONFIG environment variable. {_TF_CONFIG_HELP}")
    try:
        tf_config = json.loads(raw)
    except ValueError as e:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({e}). {_TF_CONFIG_HELP}") from None
    cluster = tf_config.get("cluster") if isinstance(tf_config, dict) else None
    task = tf_config.get("task") if isinstance(tf_config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ConfigError(f"TF_CONFIG needs a \"cluster\" and a \"task\" object. {_TF_CONFIG_HELP}")
    other = sorted(set(cluster) - {"chief", "worker"})
    if other:
        raise ConfigError(
            f"TF_CONFIG's cluster has {other} jobs: MultiWorkerMirroredStrategy runs on "
            f"\"worker\" tasks (and at most one \"chief\"). {_TF_CONFIG_HELP}"
        )
    for job, addresses in cluster.items():
        if not isinstance(addresses, list) or not all(isinstance(a, str) and ":" in a for a in addresses):
            raise ConfigError(f"TF_CONFIG's cluster.{job} must be a list of \"host:port\". {_TF_CONFIG_HELP}")
    if not cluster.get("worker"):
        raise ConfigError(f"TF_CONFIG's cluster has no \"worker\" list. {_TF_CONFIG_HELP}")
    if len(cluster.get("chief", [])) > 1:
        raise ConfigError(f"TF_CONFIG's cluster has more than one chief. {_TF_CONFIG_HELP}")
    task_type, index = task.get("type"), task.get("index")
    if task_type not in cluster or isinstance(index, bool) or not isinstance(index, int) \
            or not 0 <= index < len(cluster[task_type]):
        raise ConfigError(
            f"TF_CONFIG's task {task!r} is not in its cluster: \"type\" must be one of "
            f"{sorted(cluster)} and \"index\" this machine's position in that list. {_TF_CONFIG_HELP}"
        )
    has_chief = bool(cluster.get("chief"))
    worker_id = 0 if task_type == "chief" else index + has_chief
    return Worker(task_type, index, worker_id, len(cluster["worker"]) + has_chief, worker_id == 0)


def is_multi_worker(strategy):
    """Whether `strategy` is this process's MultiWorkerMirroredStrategy."""
    return strategy is not None and strategy is _multi_worker


def gather_from_workers(strategy, values):
    """Every replica's `values`: a `[num_replicas, len(values)]` array.

    A collective: every worker must call it, and each gets the same answer.
    Floats, so keep the values small integers or flags.
    """
    row = tf.constant([list(values)], tf.float32)

    @tf.function
    def gather():
        return strategy.gather(strategy.run(tf.identity, args=(row,)), axis=0)

    return gather().numpy()


@contextlib.contextmanager
def training_scope(train_config):
    """Where a model of `train_config` is built and trained: its strategy's
    scope under its dtype policy, the previous global policy restored after.

    Layers take the global policy when built, and variables (model and
    optimizer) must be created in the strategy's scope. The random seed is
    set to `train_config.seed` on entry, so a model's initial values depend
    on its own seed alone: not on which models were trained before it in
    the process, nor on whether an earlier phase was resumed from disk.
    The global random state stays seeded after the scope: two models built
    in two scopes of one config start from the same values.
    """
    tf.keras.utils.set_random_seed(train_config.seed)
    previous = tf.keras.mixed_precision.global_policy()
    tf.keras.mixed_precision.set_global_policy(precision_policy(train_config.mixed_precision))
    try:
        with make_strategy(train_config.strategy).scope():
            yield
    finally:
        tf.keras.mixed_precision.set_global_policy(previous)
