"""`LossScaledTrainStep`: TFRS' train step, with float16 loss scaling and the encoder's own optimizer."""

import tensorflow as tf


def _scales_loss(optimizer):
    return isinstance(optimizer, tf.keras.mixed_precision.LossScaleOptimizer)


class LossScaledTrainStep:
    """For a `tfrs.Model`: `train_step` as TFRS writes it, plus two things.

    - Under `mixed_float16`, `compile()` wraps the optimizer in a
      `LossScaleOptimizer`, but TFRS' step never scales the loss: small
      float16 gradients underflow to zero, and tf-keras warns on every
      step. Here each optimizer's gradients come from the loss times its
      own scale, and are unscaled before they are applied.
    - With an `encoder_optimizer` (fine-tuning), the variables of
      `encoder_variables()` train with it, and the rest with the model's.
      Their loss scales are independent, like two `LossScaleOptimizer`s':
      a step that overflows one group's gradients skips that group only.
    """

    encoder_optimizer = None

    def encoder_variables(self):
        """The variables `encoder_optimizer` trains (none by default)."""
        return []

    def train_step(self, inputs):
        optimizers = [self.optimizer] + ([self.encoder_optimizer] if self.encoder_optimizer is not None else [])
        scaling = any(_scales_loss(optimizer) for optimizer in optimizers)
        with tf.GradientTape(persistent=scaling and len(optimizers) > 1) as tape:
            loss = self.compute_loss(inputs, training=True)
            regularization_loss = tf.reduce_sum([tf.reduce_sum(part) for part in self.losses])
            total_loss = loss + regularization_loss
            scaled = [optimizer.get_scaled_loss(total_loss) if _scales_loss(optimizer) else total_loss
                      for optimizer in optimizers]
        # Listed after the forward pass: layers build their variables on first call.
        encoder = self.encoder_variables() if len(optimizers) > 1 else []
        owned = {v.ref() for v in encoder}
        groups = [[v for v in self.trainable_variables if v.ref() not in owned], encoder]
        if not scaling:
            # One loss for every group: one backward pass.
            gradients = tape.gradient(total_loss, groups[0] + groups[1])
            per_group = [gradients[:len(groups[0])], gradients[len(groups[0]):]]
        else:
            per_group = [tape.gradient(objective, variables) for objective, variables in zip(scaled, groups)]
        for optimizer, variables, gradients in zip(optimizers, groups, per_group):
            if not variables:  # a LossScaleOptimizer fails on an empty list
                continue
            if _scales_loss(optimizer):
                gradients = optimizer.get_unscaled_gradients(gradients)
            optimizer.apply_gradients(zip(gradients, variables))
        del tape
        metrics = {metric.name: metric.result() for metric in self.metrics}
        metrics.update(loss=loss, regularization_loss=regularization_loss, total_loss=total_loss)
        return metrics
