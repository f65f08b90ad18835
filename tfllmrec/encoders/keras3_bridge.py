"""`Keras3BridgeMixin`: a tf-keras layer that owns Keras 3 (keras-hub) layers."""

import tensorflow as tf


class Keras3BridgeMixin:
    """Makes the Keras 3 layers a tf-keras (Keras 2) layer owns count as its own.

    tf-keras does not collect the variables of Keras 3 layers held in its
    attributes. With this mixin (listed before `tf.keras.layers.Layer`) and
    the layers named by `_keras3_layers()`:

    - tf-keras optimizers, `fit` and `save_weights` see the `tf.Variable`s
      under the Keras 3 variables (`trainable_weights` and
      `non_trainable_weights`), and the layer's `trainable` flag covers them;
    - checkpoints track the Keras 3 variables through the attributes that
      hold those layers; SavedModels track the `tf.Variable`s under them
      instead (`keras3_variables`), once: the ones the signatures' functions
      capture, so TF Serving's session loader restores what it runs on.
      tf-keras' own SavedModel serialisation would add them a second time
      (every weight stored twice) and trace `call` for a Keras reload that
      cannot rebuild Keras 3 objects, so it is skipped; the SavedModel's
      own signatures are the interface;
    - the `.weights.h5` / `.keras` formats store the Keras 3 weights, then
      the layer's own (`add_weight`) ones, in one numbered list.

    Example:
    >>> import keras
    >>> class Scaled(Keras3BridgeMixin, tf.keras.layers.Layer):
    ...     def __init__(self, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.dense = keras.layers.Dense(2)
    ...         self.dense.build((None, 3))
    ...     def _keras3_layers(self):
    ...         return [self.dense]
    ...     def call(self, x):
    ...         return self.dense(x)
    >>> [tuple(v.shape) for v in Scaled().trainable_weights]  # the Dense's kernel and bias
    [(3, 2), (2,)]
    """

    # Attributes that stay out of a SavedModel (compiled helpers, caches).
    _savedmodel_skips = ()

    def _keras3_layers(self):
        """The Keras 3 layers (or models) this layer owns, in a fixed order."""
        raise NotImplementedError(f"{type(self).__name__} must list its Keras 3 layers in _keras3_layers().")

    def _keras3_weights(self, kind="weights"):
        return [v for layer in self._keras3_layers() for v in getattr(layer, kind)]

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        own = super().trainable_weights
        return [v.value for v in self._keras3_weights("trainable_weights")] + own

    @property
    def non_trainable_weights(self):
        own = super().non_trainable_weights
        if not self.trainable:
            return [v.value for v in self._keras3_weights()] + own
        return [v.value for v in self._keras3_weights("non_trainable_weights")] + own

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        if save_type != "savedmodel":
            return super()._trackable_children(save_type, **kwargs)
        children = super(tf.keras.layers.Layer, self)._trackable_children(save_type, **kwargs)
        for name in self._savedmodel_skips:
            children.pop(name, None)
        # A Keras 3 variable exports itself as a fresh copy of its tf.Variable, while
        # functions capture the tf.Variable itself: TF Serving's session loader then
        # restores the copy and runs on a variable it never restored ("Could not find
        # variable"). Keras' own ExportArchive tracks the tf.Variables; so do we, in
        # place of the Keras 3 layers (each variable stored once).
        layers = {id(layer) for layer in self._keras3_layers()}
        for name, child in list(children.items()):
            if id(child) in layers or (isinstance(child, (list, tuple)) and child
                                       and all(id(item) in layers for item in child)):
                del children[name]
        children["keras3_variables"] = self._savedmodel_variables()
        return children

    def _savedmodel_variables(self):
        # One holder per layer, outside tf-keras' attribute tracking (checkpoints keep their keys).
        holder = self.__dict__.get("_keras3_variable_holder")
        if holder is None:
            holder = tf.Module(name="keras3_variables")
            self.__dict__["_keras3_variable_holder"] = holder
        holder.tf_variables = [v.value for v in self._keras3_weights()]
        return holder

    def _saved_weights(self):
        # tf-keras' own save_own_variables stores these (`add_weight`s); it is overridden.
        return self._keras3_weights() + self._trainable_weights + self._non_trainable_weights

    def save_own_variables(self, store):
        for i, v in enumerate(self._saved_weights()):
            store[f"{i}"] = v.numpy()

    def load_own_variables(self, store):
        weights = self._saved_weights()
        if len(store.keys()) != len(weights):
            raise ValueError(self._weight_count_error(len(store.keys()), len(weights)))
        for i, v in enumerate(weights):
            value = store[f"{i}"]
            if tuple(value.shape) != tuple(v.shape):
                raise ValueError(self._weight_shape_error(i, v, tuple(value.shape)))
            v.assign(value)

    def _weight_count_error(self, saved, expected):
        return (
            f"{self.name}: the file holds {saved} weights but this {type(self).__name__} has "
            f"{expected}. Build it with the config it was saved with (see its get_config())."
        )

    def _weight_shape_error(self, index, variable, saved_shape):
        where = getattr(variable, "path", variable.name)  # Keras 3 variables have paths
        return (
            f"{self.name}: saved weight {index} ({where}) has shape {saved_shape}, "
            f"this {type(self).__name__} expects {tuple(variable.shape)}. Build it with the "
            "config it was saved with (see its get_config())."
        )
