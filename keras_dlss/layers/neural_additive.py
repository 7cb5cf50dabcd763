"""Neural additive model: one small network per input feature, outputs summed.

Agarwal, Melnick, Frosst, Zhang, Lengerich, Caruana and Hinton, "Neural
Additive Models: Interpretable Machine Learning with Neural Nets", NeurIPS 2021
(https://arxiv.org/abs/2004.13912). `f(x) = β + Σ_i f_i(x_i)`: a generalized
additive model whose shape functions `f_i` are MLPs, so each feature's effect
is a curve one can plot and read (`keras_dlss.interpret.plot_feature_shapes`).

Why one batched set of weights `[features, in, out]` and not `features`
separate `Dense` stacks: the per-feature networks run as one `einsum` per depth,
so a 100-feature model is as many kernel launches as a 1-feature one and the
graph stays small for XLA and export. The paper's feature dropout (dropping
whole shape functions during training, Section 3) is built in; its ExU hidden
units are not -- the paper reports standard ReLU units as the simpler default
for smooth shape functions, which is what distillation from a network yields.
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int, check_range, shape_str


@keras.saving.register_keras_serializable(package="keras_dlss")
class NeuralAdditiveModel(keras.layers.Layer):
    """Generalized additive model with one MLP per input feature.

    Args:
        units: int >= 1. Outputs (1 for regression, the class count for logits).
            Defaults to `1`.
        hidden_units: tuple of ints >= 1. Hidden sizes of every per-feature MLP.
            Defaults to `(32, 32)`.
        activation: activation of the hidden layers. Defaults to `"relu"`.
        feature_dropout: float in [0, 1). Probability of dropping a feature's
            whole contribution during training. Defaults to `0.0`.
        seed: int or None. Seed of the initial weights (Glorot uniform per
            feature) and of the feature dropout. Defaults to `None`.
        **kwargs: base `Layer` arguments.

    Input shape:
        `[batch, features]`.

    Returns:
        `[batch, units]`: `bias + Σ_i f_i(x_i)`. `feature_contributions(x)` returns
        the terms `[batch, features, units]`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import NeuralAdditiveModel

    nam = NeuralAdditiveModel(units=2, hidden_units=(8,))
    x = np.random.rand(4, 3).astype("float32")
    y = nam(x)                              # [4, 2]
    terms = nam.feature_contributions(x)    # [4, 3, 2], summing (+ bias) to y
    ```

    References:
        Agarwal et al., 2021, https://arxiv.org/abs/2004.13912
    """

    def __init__(
        self,
        units=1,
        hidden_units=(32, 32),
        activation="relu",
        feature_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        if not isinstance(hidden_units, (list, tuple)):
            raise ValueError(
                "Argument `hidden_units` must be a tuple of positive integers. "
                f"Received: hidden_units={hidden_units!r}"
            )
        self.hidden_units = tuple(check_positive_int("hidden_units", h) for h in hidden_units)
        self.activation = keras.activations.get(activation)
        self.activation_name = activation
        self.feature_dropout = float(
            check_range("feature_dropout", feature_dropout, 0.0, 1.0, high_inclusive=False)
        )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if self.feature_dropout else None

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                "Argument `inputs` must have shape [batch, features] with a known feature "
                f"count. Received: inputs.shape={shape_str(input_shape)}"
            )
        features = int(input_shape[-1])
        sizes = (1,) + self.hidden_units + (self.units,)
        self.kernels, self.biases = [], []
        for depth, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.kernels.append(
                self.add_weight(
                    name=f"kernel_{depth}",
                    shape=(features, fan_in, fan_out),
                    initializer=self._per_feature_initializer(fan_in, fan_out),
                )
            )
            if depth < len(sizes) - 2:  # the last layer's bias is the shared `bias`
                # Zero first-layer biases would put every unit's kink at x_i = 0 and
                # start each shape function as one bend; random ones spread the
                # kinks over the input range (the role of the paper's ExU centres).
                init = keras.initializers.RandomNormal(0.0, 0.5, seed=self.seed)
                self.biases.append(
                    self.add_weight(
                        name=f"bias_{depth}",
                        shape=(features, fan_out),
                        initializer=init if depth == 0 else "zeros",
                    )
                )
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def _per_feature_initializer(self, fan_in, fan_out):
        # Glorot uniform per feature block: Keras' Glorot on a [features, in, out]
        # kernel would count `features` in the fans and shrink every shape
        # function as features are added.
        limit = (6.0 / (fan_in + fan_out)) ** 0.5
        return keras.initializers.RandomUniform(-limit, limit, seed=self.seed)

    def feature_contributions(self, inputs, training=False):
        """The shape-function values `f_i(x_i)`, `[batch, features, units]`."""
        if not self.built:
            self(inputs)  # builds through Keras' own path (input checks, dtype policy)
        if inputs.shape[-1] != self.kernels[0].shape[0]:
            raise ValueError(
                f"Argument `inputs` must have {self.kernels[0].shape[0]} features, as when the "
                f"layer was built. Received: inputs.shape={shape_str(inputs.shape)}"
            )
        h = ops.expand_dims(ops.cast(inputs, self.compute_dtype), -1)
        last = len(self.kernels) - 1
        for depth, kernel in enumerate(self.kernels):
            h = ops.einsum("bfi,fio->bfo", h, ops.cast(kernel, self.compute_dtype))
            if depth < last:
                h = self.activation(h + ops.cast(self.biases[depth], self.compute_dtype))
        if training and self.feature_dropout:
            keep = keras.random.dropout(
                ops.ones_like(h[:, :, :1]), self.feature_dropout, seed=self.seed_generator
            )
            h = h * keep
        return h

    def call(self, inputs, training=None):
        terms = self.feature_contributions(inputs, training=training)
        return ops.sum(terms, axis=1) + ops.cast(self.bias, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "hidden_units": self.hidden_units,
            "activation": self.activation_name,
            "feature_dropout": self.feature_dropout,
            "seed": self.seed,
        }
