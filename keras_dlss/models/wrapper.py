"""`WrapperModel`: a `CustomStepModel` that wraps another model and owns its training step.

SAM, K-FAC and evolution strategies each need a step the stock one cannot
express (two gradients per batch, captured activations, loss-only updates) for
a model the user already built. They share this base: `call` delegates to the
wrapped model and serialization stores it; the step itself is written on
`CustomStepModel`'s primitives, so it runs on every backend.
"""

import keras

from keras_dlss.models.custom_step import CustomStepModel


class WrapperModel(CustomStepModel):
    """Delegates `call` to `model`; subclasses override `custom_train_step`.

    Args:
        model: the `keras.Model` (or layer) to train.
        **kwargs: passed to `keras.Model`.
    """

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(model, keras.layers.Layer):
            raise ValueError(
                "Argument `model` must be a keras.Model or keras.layers.Layer. "
                f"Received: model={model!r}"
            )
        self.inner_model = model
        if model.built:
            self.built = True

    def call(self, inputs, training=None):
        return self.inner_model(inputs, training=training)

    def build(self, input_shape):
        if not self.inner_model.built:
            self.inner_model.build(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        return self.inner_model.compute_output_shape(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "model": keras.saving.serialize_keras_object(self.inner_model),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(
            config["model"], custom_objects=custom_objects
        )
        return cls(**config)
