"""`EncoderFineTuningMixin`: a model whose item-text encoder trains with its own optimizer."""

from tfllmrec.models.loss_scaled_train_step import LossScaledTrainStep
from tfllmrec.trainable_mode import parse_trainable
from tfllmrec.towers.live_item_text import LiveItemText


class EncoderFineTuningMixin(LossScaledTrainStep):
    """For a `tfrs.Model` with a `live_text` (`LiveItemText` or None) and
    `_text_towers()` (the towers whose text tables follow the encoder).

    The trainer gives the encoder its own optimizer (`encoder_optimizer`:
    AdamW with its own learning rate, warm-up, weight decay and clipping,
    `tfllmrec.training.make_encoder_optimizer`), because BERT's weights
    need a learning rate ~100x below the towers'; `LossScaledTrainStep`
    sends the encoder's gradients to it.
    """

    @staticmethod
    def build_live_text(options, has_text):
        """The `LiveItemText` of `options["trainable"]`, or None when the encoder stays frozen."""
        mode = parse_trainable(options["trainable"])
        if mode == "none" or not has_text:
            return None
        from tfllmrec.encoders import TextEncoder  # loads keras-hub: only when fine-tuning

        encoder = TextEncoder.from_preset(options["encoder"], sequence_length=options["sequence_length"],
                                          trainable=mode, name="text_encoder")
        return LiveItemText(encoder, name="live_text")

    @property
    def fine_tunes_text(self):
        return self.live_text is not None

    @property
    def text_encoder(self):
        """The (fine-tuned) `TextEncoder` of the item texts, or None when frozen."""
        return None if self.live_text is None else self.live_text.encoder

    def encoder_variables(self):
        """The encoder's trained variables (empty when it is frozen)."""
        return [] if self.live_text is None else list(self.live_text.trainable_weights)

    def set_text_inputs(self, values, mask):
        """Sets the items' cached encoder inputs (`LiveItemText.inputs_of`)."""
        self.live_text.set_inputs(values, mask)

    def refresh_text(self):
        """Re-embeds every item's text with the encoder's current weights into the text tables."""
        table = self.live_text.embed_all()
        for tower in self._text_towers():
            tower.text_table.assign(table)
