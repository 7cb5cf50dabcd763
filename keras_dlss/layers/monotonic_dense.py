"""A dense layer that is monotone, by construction, in chosen inputs.

Sill, "Monotonic Networks", NIPS 1998; Runje and Shankaranarayana,
"Constrained Monotonic Neural Networks", ICML 2023
(https://arxiv.org/abs/2205.11775). If every weight leaving an input is
non-negative and every activation is non-decreasing, each unit -- and any
stack of such layers -- is non-decreasing in that input; a non-positive weight
makes it non-increasing. Unconstrained inputs keep free weights.

Why a reparameterization and not a `keras.constraints.NonNeg` on the kernel:
a constraint clips the variable after each optimizer step, so weights that
cross zero stick at exactly zero (their gradient keeps pushing them below) and
the layer loses those inputs for good. Here the trainable variable stays
unconstrained and the effective weight is `|W|` (Runje and Shankaranarayana
2023, Eq. 3), so a weight can recover and monotonicity holds for *every* value
of the variable, including the initial one and after loading a `.keras` file --
a guarantee, not a training outcome.

Activations are restricted to a list of non-decreasing functions: a `gelu` or
`swish` unit would silently break the guarantee. A stack of ReLU units with
non-negative weights is convex in the monotone inputs; a bounded activation
(`tanh`, `sigmoid`) in hidden layers lifts that restriction (Sill 1998).
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_positive_int, shape_str

# Non-decreasing activations (a monotone unit needs one); anything else would
# break the guarantee silently.
MONOTONE_ACTIVATIONS = (
    None,
    "linear",
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "softplus",
    "softsign",
    "sigmoid",
    "hard_sigmoid",
    "tanh",
    "hard_tanh",
    "exponential",
)


def _check_features(name, features):
    if features is None or features == "all":
        return features
    if isinstance(features, (int, np.integer)) and not isinstance(features, bool):
        features = [features]
    ok = isinstance(features, (list, tuple)) and all(
        isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in features
    )
    if not ok:
        raise ValueError(
            f'Argument `{name}` must be None, "all" or a list of input indices. '
            f"Received: {name}={features!r}"
        )
    return [int(i) for i in features]


def _indices(name, features, dim):
    if features is None:
        return []
    if features == "all":
        return list(range(dim))
    bad = [i for i in features if not -dim <= i < dim]
    if bad:
        raise ValueError(
            f"Argument `{name}` must hold input indices in [{-dim}, {dim}) for inputs with "
            f"{dim} features. Received: {name}={features!r}"
        )
    return [i % dim for i in features]


@keras.saving.register_keras_serializable(package="keras_dlss")
class MonotonicDense(keras.layers.Layer):
    """Dense layer that is non-decreasing (or non-increasing) in chosen inputs.

    `y = activation(x @ W_eff + b)` where the rows of `W_eff` for `increasing`
    inputs are `|W|`, for `decreasing` inputs `-|W|`, and free (`W`) otherwise.
    With a non-decreasing activation (enforced), `y` is monotone in those inputs
    for any weights; stack layers with `increasing="all"` after the first to keep
    the whole network monotone.

    Args:
        units: int >= 1. Output size.
        increasing: None, `"all"`, or a list of input indices in which the output
            is non-decreasing. Defaults to `"all"`.
        decreasing: None, `"all"`, or a list of input indices in which the output
            is non-increasing. Defaults to `None`.
        activation: name of a non-decreasing activation (`MONOTONE_ACTIVATIONS`).
            Defaults to `None` (linear).
        use_bias: bool. Defaults to `True`.
        kernel_initializer: initializer of the raw kernel. Defaults to
            `"glorot_uniform"`.
        bias_initializer: Defaults to `"zeros"`.
        kernel_regularizer: optional regularizer of the raw kernel (e.g.
            `keras_dlss.regularizers.GroupLasso`). Defaults to `None`.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Input shape:
        `[..., features]`.

    Returns:
        `[..., units]`.

    Example:

    ```python
    import numpy as np
    import keras
    from keras_dlss.layers import MonotonicDense

    model = keras.Sequential([
        keras.Input((3,)),
        MonotonicDense(8, increasing=[0], decreasing=[2], activation="tanh"),
        MonotonicDense(1, increasing="all"),
    ])
    x = np.random.rand(4, 3).astype("float32")
    bigger = x + np.array([0.5, 0.0, 0.0], "float32")  # raise feature 0 only
    assert np.all(model.predict(bigger, verbose=0) >= model.predict(x, verbose=0))
    ```

    References:
        Sill, 1998, "Monotonic Networks", NIPS.
        Runje & Shankaranarayana, 2023, https://arxiv.org/abs/2205.11775
    """

    def __init__(
        self,
        units,
        increasing="all",
        decreasing=None,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.increasing = _check_features("increasing", increasing)
        self.decreasing = _check_features("decreasing", decreasing)
        if self.increasing == "all" and self.decreasing is not None:
            raise ValueError(
                'Argument `decreasing` must be None when increasing="all". '
                f"Received: decreasing={decreasing!r}"
            )
        name = activation if activation is None or isinstance(activation, str) else None
        if name not in MONOTONE_ACTIVATIONS:
            raise ValueError(
                "Argument `activation` must name a non-decreasing activation, one of "
                f"{[a for a in MONOTONE_ACTIVATIONS if a]}. Received: activation={activation!r}"
            )
        self.activation_name = activation
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.signs = None

    def build(self, input_shape):
        dim = input_shape[-1]
        if len(input_shape) < 2 or dim is None:
            raise ValueError(
                "Argument `inputs` must have rank >= 2 and a known last axis. "
                f"Received: inputs.shape={shape_str(input_shape)}"
            )
        up = _indices("increasing", self.increasing, dim)
        down = _indices("decreasing", self.decreasing, dim)
        both = sorted(set(up) & set(down))
        if both:
            raise ValueError(
                "Arguments `increasing` and `decreasing` must not share inputs. "
                f"Received: both contain {both}"
            )
        signs = np.zeros((dim, 1), "float32")
        signs[up] = 1.0
        signs[down] = -1.0
        self.signs = signs
        self.kernel = self.add_weight(
            name="kernel",
            shape=(dim, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.units,), initializer=self.bias_initializer
            )

    @property
    def effective_kernel(self):
        """The kernel the layer multiplies by: `±|W|` on monotone rows, `W` elsewhere."""
        kernel = ops.convert_to_tensor(self.kernel)
        signs = ops.cast(ops.convert_to_tensor(self.signs), kernel.dtype)
        free = ops.cast(ops.equal(signs, 0.0), kernel.dtype)
        return free * kernel + signs * ops.abs(kernel)

    def call(self, inputs):
        if inputs.shape[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"Argument `inputs` must have {self.kernel.shape[0]} features (last axis), "
                f"as when the layer was built. Received: inputs.shape={shape_str(inputs.shape)}"
            )
        kernel = ops.cast(self.effective_kernel, self.compute_dtype)
        y = ops.matmul(inputs, kernel)
        if self.bias is not None:
            y = y + ops.cast(self.bias, self.compute_dtype)
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "increasing": self.increasing,
            "decreasing": self.decreasing,
            "activation": self.activation_name,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
        }
