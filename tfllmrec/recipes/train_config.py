"""`TrainConfig`: optimisation schedule of a recipe."""

import dataclasses

from tfllmrec.ranges import SEED, Range, check_fields

STRATEGIES = ("default", "mirrored", "multi_worker")
# The range of each numeric field, checked as a config is read.
RANGES = {
    "epochs": Range(int, 1, example=30),
    "batch_size": Range(int, 1, example=512),
    "learning_rate": Range(float, 0, low_open=True, example=0.003),
    "weight_decay": Range(float, 0, example=0.0, meaning="0: Adam"),
    "patience": Range(int, 0, example=5, meaning="0: never stop early"),
    "seed": SEED,
    "checkpoint_every_steps": Range(int, 0, example=0, meaning="0: once per epoch"),
    "encoder_learning_rate": Range(float, 0, low_open=True, example=3e-5),
    "encoder_warmup_steps": Range(int, 0, example=100, meaning="0: no warm-up"),
    "encoder_delay_steps": Range(int, 0, example=0, meaning="0: the encoder trains from the first step"),
    "encoder_weight_decay": Range(float, 0, example=0.01),
    "encoder_clipnorm": Range(float, 0, example=1.0, meaning="0: no clipping"),
    "encoder_refresh_steps": Range(int, 0, example=50, meaning="0: after each epoch only"),
}


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
        encoder_learning_rate, encoder_warmup_steps, encoder_weight_decay,
        encoder_clipnorm: the text encoder's own AdamW when it fine-tunes
            (`model.trainable` "top:N" or "all"): peak learning rate,
            reached linearly over the warm-up steps; decoupled weight decay
            (not on biases and layer norms); global gradient-norm clipping
            (0: none). The towers keep `learning_rate`.
        encoder_delay_steps: int. Steps the towers train on the frozen text
            before the encoder's warm-up starts (its learning rate is 0
            until then): towers first, encoder later.
        encoder_refresh_steps: int. When the encoder fine-tunes, re-embed
            the whole catalogue's texts every this many steps (and after
            each epoch): the full softmax scores the batch's own items with
            the live encoder and every other item with that table.

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
    encoder_learning_rate: float = 3e-5
    encoder_warmup_steps: int = 100
    encoder_delay_steps: int = 0
    encoder_weight_decay: float = 0.01
    encoder_clipnorm: float = 1.0
    encoder_refresh_steps: int = 50

    def __post_init__(self):
        check_fields(self, RANGES)
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy={self.strategy!r}: use one of {', '.join(map(repr, STRATEGIES))}.")
