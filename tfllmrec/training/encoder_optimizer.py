"""The text encoder's optimizer: AdamW with a linear warm-up, decay and clipping of its own."""

import tensorflow as tf


class LinearWarmUp(tf.keras.optimizers.schedules.LearningRateSchedule):
    """0 for the first `delay_steps`, then `peak * min(1, (step - delay_steps + 1) / warmup_steps)`.

    The delay lets the towers fit the frozen text before the encoder moves
    under them: at a learning rate of 0, AdamW leaves the weights as they
    are (its weight decay scales with the rate too).

    Example:
    >>> [round(float(LinearWarmUp(1e-4, 4)(s)), 7) for s in (0, 3, 10)]
    [2.5e-05, 0.0001, 0.0001]
    >>> [round(float(LinearWarmUp(1e-4, 4, delay_steps=10)(s)), 7) for s in (0, 9, 10, 13)]
    [0.0, 0.0, 2.5e-05, 0.0001]
    """

    def __init__(self, peak, warmup_steps, delay_steps=0):
        self.peak, self.warmup_steps, self.delay_steps = float(peak), int(warmup_steps), int(delay_steps)

    def __call__(self, step):
        since = tf.cast(step, tf.float32) - float(self.delay_steps)
        rate = tf.constant(self.peak) if not self.warmup_steps else (
            self.peak * tf.minimum(1.0, (since + 1.0) / float(self.warmup_steps)))
        return tf.where(since < 0, 0.0, rate)

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps, "delay_steps": self.delay_steps}


def make_encoder_optimizer(train):
    """AdamW of a TrainConfig's `encoder_*` fields, with weight decay on
    weight matrices only (not biases or layer-norm scales, as BERT trains)."""
    optimizer = tf.keras.optimizers.AdamW(
        learning_rate=LinearWarmUp(train.encoder_learning_rate, train.encoder_warmup_steps,
                                   train.encoder_delay_steps),
        weight_decay=train.encoder_weight_decay,
        global_clipnorm=train.encoder_clipnorm or None,
    )
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    if tf.keras.mixed_precision.global_policy().name == "mixed_float16":
        # As compile() wraps the towers' optimizer: float16 gradients need loss scaling.
        optimizer = tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer
