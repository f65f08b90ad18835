"""`TrainConfig`: optimisation schedule of a recipe."""

import dataclasses

STRATEGIES = ("default", "mirrored", "multi_worker")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How a recipe trains.

    Args:
        epochs: int. Maximum epochs.
        batch_size: int. Interactions per step.
        learning_rate: float. Adam's learning rate.
        weight_decay: float. Decoupled weight decay (AdamW); 0 for Adam.
        patience: int. Stop after this many epochs without a better
            validation score; 0 never stops early.
        seed: int. The random seed of the models trained with this config:
            TensorFlow, NumPy and Python are seeded with it when each one is
            built (`training_scope`), so `train.seed` leaves the baselines
            (`baseline_train.seed`) as they are.
        mixed_precision: bool. Compute in float16 on GPUs (bfloat16 on
            CPUs); variables, scores and losses stay float32.
        jit_compile: bool. Compile the train step with XLA.
        checkpoint_every_steps: int. Also checkpoint every this many steps
            within an epoch (long epochs on big data); 0: once per epoch.
        strategy: str. "default" (one device), "mirrored"
            (`tf.distribute.MirroredStrategy` over every GPU, or every
            logical CPU when there is no GPU) or "multi_worker"
            (`tf.distribute.MultiWorkerMirroredStrategy` over the machines
            the `TF_CONFIG` environment variable lists, and each one's
            GPUs). `batch_size` is the global batch, split across replicas.

    Example:
    >>> TrainConfig(epochs=5).batch_size
    512
    """

    epochs: int = 30
    batch_size: int = 512
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    patience: int = 5
    seed: int = 42
    mixed_precision: bool = False
    jit_compile: bool = False
    checkpoint_every_steps: int = 0
    strategy: str = "default"

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be positive.")
        if self.learning_rate <= 0:
            raise ValueError("learning_rate must be positive.")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy={self.strategy!r}: use one of {', '.join(map(repr, STRATEGIES))}.")
        if self.patience < 0 or self.weight_decay < 0 or self.checkpoint_every_steps < 0:
            raise ValueError("patience, weight_decay and checkpoint_every_steps must be >= 0.")
