"""Deep-equilibrium layer: the output is the fixed point z* = f(z*, x).

Bai, Kolter and Koltun, "Deep Equilibrium Models", NeurIPS 2019
(arXiv:1909.01377). The math lives in `keras_dlss.ops.fixed_point`.
"""

import keras
from keras import ops

from keras_dlss import _validation as v
from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.ops.fixed_point import implicit_fixed_point


@keras.saving.register_keras_serializable(package="keras_dlss")
class FixedPointLayer(keras.layers.Layer):
    """Returns the equilibrium z* = f([z*, x]) of a user-given layer `f`.

    The forward pass runs a bounded fixed-point iteration (optionally with
    Anderson acceleration) from z = 0; the backward pass uses the implicit
    function theorem (an adjoint fixed point, also bounded) instead of
    backpropagating through the iterations, so training memory does not grow
    with `max_iterations`. `f` should be a contraction in z (e.g. a small
    weight norm or a `tanh` cell) for the iteration to converge.

    Args:
        function: a Keras layer called as `function([z, x])` and returning a
            tensor shaped like `z`.
        state_shape: tuple. Shape of z without the batch axis. Defaults to the
            shape of `x` without the batch axis.
        max_iterations: int >= 1. Bound on forward iterations. Defaults to `50`.
        tolerance: float >= 0. Stop when `max |f(z) - z| <= tolerance`; `0` runs all
            iterations. Defaults to `1e-5`.
        anderson_memory: int >= 0. Anderson history size (0: plain iteration).
            Defaults to `0`.
        damping: float in (0, 1]. Mixing β of the iteration. Defaults to `1.0`.
        backward_max_iterations: int >= 1. Bound on adjoint iterations. Defaults to
            `max_iterations`.
        backward_tolerance: float >= 0. Adjoint tolerance. Defaults to `tolerance`.
        **kwargs: base `Layer` arguments.

    Input shape:
        `[B, ...]` float tensor x.

    Output shape:
        `[B, *state_shape]`.

    Example:

    ```python
    class TanhCell(keras.layers.Layer):  # z' = tanh(z W + x U), a contraction in z
        def build(self, input_shape):
            z_shape, x_shape = input_shape
            small = keras.initializers.RandomNormal(stddev=0.05)
            self.w = self.add_weight(shape=(z_shape[-1], z_shape[-1]), initializer=small)
            self.u = self.add_weight(shape=(x_shape[-1], z_shape[-1]))

        def call(self, inputs):
            z, x = inputs
            return keras.ops.tanh(z @ self.w + x @ self.u)

    layer = FixedPointLayer(TanhCell(), state_shape=(16,), anderson_memory=5)
    z = layer(np.random.rand(8, 4).astype("float32"))  # [8, 16]
    ```

    References:
        Bai et al., 2019, https://arxiv.org/abs/1909.01377
    """

    def __init__(
        self,
        function,
        state_shape=None,
        max_iterations=50,
        tolerance=1e-5,
        anderson_memory=0,
        damping=1.0,
        backward_max_iterations=None,
        backward_tolerance=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(function, dict):
            function = keras.saving.deserialize_keras_object(function)
        if not isinstance(function, keras.layers.Layer):
            raise ValueError(
                f"Argument `function` must be a Keras layer. Received: function={function!r}"
            )
        self.function = function
        self.state_shape = None if state_shape is None else tuple(int(d) for d in state_shape)
        self.max_iterations = check_positive_int("max_iterations", max_iterations)
        self.tolerance = float(check_range("tolerance", tolerance, 0))
        self.anderson_memory = check_positive_int("anderson_memory", anderson_memory, minimum=0)
        self.damping = float(check_range("damping", damping, 0, 1, low_inclusive=False))
        self.backward_max_iterations = (
            None
            if backward_max_iterations is None
            else check_positive_int("backward_max_iterations", backward_max_iterations)
        )
        self.backward_tolerance = (
            None
            if backward_tolerance is None
            else float(check_range("backward_tolerance", backward_tolerance, 0))
        )

    def _state_shape(self, input_shape):
        return self.state_shape if self.state_shape is not None else tuple(input_shape[1:])

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(
                "Argument `x` must have rank >= 2 (batch first). "
                f"Received: x.shape={tuple(input_shape)}"
            )
        if not self.function.built:
            self.function.build([(input_shape[0], *self._state_shape(input_shape)), input_shape])

    def _options(self):
        forward = {
            "max_iterations": self.max_iterations,
            "tolerance": self.tolerance,
            "anderson_memory": self.anderson_memory,
            "damping": self.damping,
        }
        backward = dict(forward)
        if self.backward_max_iterations is not None:
            backward["max_iterations"] = self.backward_max_iterations
        if self.backward_tolerance is not None:
            backward["tolerance"] = self.backward_tolerance
        return forward, backward

    def _apply(self, z, x, params):
        # Weights enter as explicit tensors so the implicit gradient can return theirs.
        variables = self.function.trainable_variables
        with keras.StatelessScope(state_mapping=list(zip(variables, params))):
            out = self.function([z, x])
        # Checked while the loop body is traced: static, free in the graph.
        if not v.shapes_compatible(out.shape, z.shape):
            raise ValueError(
                "Argument `function` must return a tensor shaped like the state z "
                f"({v.shape_str(z.shape)}, see `state_shape`). "
                f"Received: function([z, x]).shape={v.shape_str(out.shape)}"
            )
        return ops.cast(out, z.dtype)

    def call(self, inputs):
        v.check_min_rank("x", inputs, 2)
        v.check_dtype_kind("x", inputs, "floating")
        x = ops.convert_to_tensor(inputs, self.compute_dtype)
        shape = (ops.shape(x)[0], *self._state_shape(x.shape))
        z0 = ops.zeros(shape, x.dtype)
        params = [ops.cast(w.value, x.dtype) for w in self.function.trainable_variables]
        forward, backward = self._options()
        return implicit_fixed_point(
            self._apply, x, params, z0, backward_options=backward, **forward
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self._state_shape(input_shape))

    def get_config(self):
        return {
            **super().get_config(),
            "function": keras.saving.serialize_keras_object(self.function),
            "state_shape": self.state_shape,
            "max_iterations": self.max_iterations,
            "tolerance": self.tolerance,
            "anderson_memory": self.anderson_memory,
            "damping": self.damping,
            "backward_max_iterations": self.backward_max_iterations,
            "backward_tolerance": self.backward_tolerance,
        }
