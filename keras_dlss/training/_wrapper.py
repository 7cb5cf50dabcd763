"""A `keras.Model` that wraps another model and owns its training step (internal).

SAM, K-FAC and evolution strategies each need a training step that the stock
`Model.train_step` cannot express (two gradients per batch, captured
activations, loss-only updates). They share this base: `call` delegates to the
wrapped model, serialization stores it, and `_finish_step` updates the loss
tracker and compiled metrics the way Keras' own `train_step` does.
"""

import keras


class WrapperModel(keras.Model):
    """Delegates `call` to `model`; subclasses override `train_step`."""

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(model, keras.layers.Layer):
            raise ValueError(
                f"Argument `model` must be a keras.Model or keras.layers.Layer. Received: model={model!r}"
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

    def _finish_step(self, x, y, y_pred, sample_weight, loss):
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

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


def require_tensorflow(what):
    """Raises NotImplementedError naming `what` unless the TF backend is active."""
    if keras.config.backend() != "tensorflow":
        raise NotImplementedError(
            f"{what} currently implements its training step for the TensorFlow backend only. "
            f"Received: backend={keras.config.backend()!r}"
        )


def loss_and_gradients(model, x, y, sample_weight):
    """Forward pass, compiled loss and its gradient w.r.t. trainable weights (TF)."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
        )
    grads = tape.gradient(loss, model.trainable_variables)
    return loss, y_pred, grads
