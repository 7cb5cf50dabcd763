"""Hierarchical multiscale LSTM (Chung et al. 2017), for `keras.layers.RNN`.

A stack of LSTM layers in which each layer `l` below the top has a binary
boundary detector `z[t, l]`. The layer above reads its input only when the
layer below ends a segment (`z[t, l-1] = 1`); otherwise it COPIES its state.
A layer that ended a segment at `t - 1` FLUSHES: it passes its summary upward
and restarts its cell from zero (eqs. 2-5):

    s = z[t, l-1] W h[t, l-1] + U h[t-1, l] + z[t-1, l] U_td h[t-1, l+1] + b
    f, i, o = sigmoid(s_f, s_i, s_o); g = tanh(s_g)
    z[t, l] = step(hard_sigmoid(slope * s_z))      (straight-through backward)
    c, h = FLUSH | UPDATE | COPY (see `ops.hierarchical_multiscale.hmlstm_update`)

The bottom layer reads the input every step (`z[t, 0]` treated as 1). The top
layer has no boundary detector (it never flushes; its state summarises the
whole sequence) and no top-down input. The boundaries are discrete in the
forward pass and carried as states, so masks, `initial_state`, `go_backwards`
and XLA come from `keras.layers.RNN`; the slope is a non-trainable variable that
a callback anneals (the paper: `slope = min(5, 1 + 0.04 * epoch)`).

References:
    - Chung, Ahn & Bengio, "Hierarchical Multiscale Recurrent Neural
      Networks", ICLR 2017. https://arxiv.org/abs/1609.01704
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.layers._lstm_options import LSTMOptions
from keras_dlss.ops.hierarchical_multiscale import hmlstm_update, straight_through_boundary

__all__ = ["HierarchicalMultiscaleLSTM", "HierarchicalMultiscaleLSTMCell"]


@keras.saving.register_keras_serializable(package="keras_dlss")
class HierarchicalMultiscaleLSTMCell(LSTMOptions, keras.layers.Layer):
    """HM-LSTM cell: `num_layers` stacked LSTMs with learned COPY/UPDATE/FLUSH boundaries.

    Args:
        units: int. Units per layer.
        num_layers: int >= 1. Layers in the stack; the lower `num_layers - 1`
            have boundary detectors. Defaults to `2`.
        slope: float > 0. Initial slope of the hard sigmoid of the boundary
            detectors (the variable `cell.slope`, annealed with
            `cell.slope.assign(...)`). Defaults to `1.0`.
        straight_through: bool. Pass gradients to the boundary detectors with
            the straight-through estimator; `False` treats boundaries as
            constants (the true derivative almost everywhere). Defaults to `True`.
        return_boundaries: bool. Append the `num_layers - 1` boundaries to the
            output. Defaults to `False`.
        kernel_initializer: initializer of the bottom-up kernels. Defaults to
            `"glorot_uniform"`.
        recurrent_initializer: initializer of the recurrent and top-down
            kernels. Defaults to `"orthogonal"`.
        bias_initializer: Defaults to `"zeros"`.
        unit_forget_bias: bool. Add 1 to the forget-gate bias. Defaults to `True`.
        **kwargs: `keras.layers.Layer` arguments.

    Call: `(inputs [B, D], states) -> (output, states)` with output
    `concat(h_1, ..., h_L)` `[B, L * units]`, then the boundaries `[B, L - 1]`
    when `return_boundaries`, and states `[output, h_1, c_1, z_1, ..., h_L,
    c_L, z_L]` (`z` is `[B, 1]`, 0 for the top; the previous output comes first
    because Keras's JAX and torch RNNs emit `states[0]` at masked steps).

    Example:

    ```python
    import numpy as np
    import keras
    from keras_dlss.layers import HierarchicalMultiscaleLSTMCell

    rnn = keras.layers.RNN(HierarchicalMultiscaleLSTMCell(4, num_layers=2), return_sequences=True)
    print(rnn(np.random.rand(2, 5, 3).astype("float32")).shape)   # (2, 5, 8)
    ```

    References:
        Chung et al., ICLR 2017, https://arxiv.org/abs/1609.01704.
    """

    def __init__(
        self,
        units,
        num_layers=2,
        slope=1.0,
        straight_through=True,
        return_boundaries=False,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.initial_slope = float(check_range("slope", slope, 0.0, low_inclusive=False))
        self.straight_through = bool(straight_through)
        self.return_boundaries = bool(return_boundaries)
        self.set_lstm_options(
            kernel_initializer, recurrent_initializer, bias_initializer, unit_forget_bias
        )
        self.output_size = self.units * self.num_layers + (
            self.num_layers - 1 if self.return_boundaries else 0
        )
        # The first state repeats the output: Keras's JAX and torch RNNs emit `states[0]` at
        # masked steps, so it must have the output's shape.
        self.state_size = [self.output_size] + [self.units, self.units, 1] * self.num_layers

    def _columns(self, layer):
        # f, i, o, g, and the boundary pre-activation below the top layer.
        return 4 * self.units + (1 if layer < self.num_layers - 1 else 0)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(
                "Argument `input_shape` must have a known last axis. "
                f"Received: input_shape={input_shape}"
            )
        u = self.units
        self.kernels, self.recurrent_kernels, self.top_down_kernels, self.biases = [], [], [], []
        for layer in range(self.num_layers):
            cols = self._columns(layer)
            self.kernels.append(
                self.add_weight(
                    shape=(dim if layer == 0 else u, cols),
                    initializer=self.kernel_initializer,
                    name=f"kernel_{layer}",
                )
            )
            self.recurrent_kernels.append(
                self.add_weight(
                    shape=(u, cols),
                    initializer=self.recurrent_initializer,
                    name=f"recurrent_kernel_{layer}",
                )
            )
            if layer < self.num_layers - 1:
                self.top_down_kernels.append(
                    self.add_weight(
                        shape=(u, cols),
                        initializer=self.recurrent_initializer,
                        name=f"top_down_kernel_{layer}",
                    )
                )
            self.biases.append(
                self.add_weight(
                    shape=(cols,), initializer=self.lstm_bias_initializer(0), name=f"bias_{layer}"
                )
            )
        self.slope = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.initial_slope),
            trainable=False,
            name="slope",
        )

    def call(self, inputs, states, training=None):
        u, n = self.units, self.num_layers
        h_prev = [states[3 * k + 1] for k in range(n)]
        c_prev = [states[3 * k + 2] for k in range(n)]
        z_prev = [states[3 * k + 3] for k in range(n)]
        slope = ops.cast(self.slope, inputs.dtype)
        below = inputs
        z_below = ops.ones_like(z_prev[0])
        new_states, hs, zs = [], [], []
        for k in range(n):
            s = z_below * ops.matmul(below, self.kernels[k])
            s = s + ops.matmul(h_prev[k], self.recurrent_kernels[k]) + self.biases[k]
            if k < n - 1:
                s = s + z_prev[k] * ops.matmul(h_prev[k + 1], self.top_down_kernels[k])
            gates = (
                ops.sigmoid(s[:, :u]),
                ops.sigmoid(s[:, u : 2 * u]),
                ops.sigmoid(s[:, 2 * u : 3 * u]),
                ops.tanh(s[:, 3 * u : 4 * u]),
            )
            c, h = hmlstm_update(c_prev[k], h_prev[k], z_prev[k], z_below, gates)
            if k < n - 1:
                z = straight_through_boundary(s[:, 4 * u :], slope, self.straight_through)
                zs.append(z)
            else:
                z = ops.zeros_like(z_prev[k])
            new_states += [h, c, z]
            hs.append(h)
            below, z_below = h, z
        output = ops.concatenate(hs + (zs if self.return_boundaries else []), axis=-1)
        return output, [output] + new_states

    def get_initial_state(self, batch_size=None):
        zeros = ops.zeros((batch_size, self.units), dtype=self.compute_dtype)
        no_boundary = ops.zeros((batch_size, 1), dtype=self.compute_dtype)
        output = ops.zeros((batch_size, self.output_size), dtype=self.compute_dtype)
        return [output] + [zeros, zeros, no_boundary] * self.num_layers

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "num_layers": self.num_layers,
            "slope": self.initial_slope,
            "straight_through": self.straight_through,
            "return_boundaries": self.return_boundaries,
            **self.lstm_options_config(),
        }


@keras.saving.register_keras_serializable(package="keras_dlss")
class HierarchicalMultiscaleLSTM(keras.layers.Layer):
    """HM-LSTM over a sequence: `[B, T, D]` -> `[B, T, L * units]` (and boundaries).

    `keras.layers.RNN(HierarchicalMultiscaleLSTMCell(...))` with the boundaries
    split from the hidden states.

    Args:
        units: int. Units per layer.
        num_layers: int >= 1. Defaults to `2`.
        slope: float > 0. Initial hard-sigmoid slope (`layer.slope` variable).
            Defaults to `1.0`.
        straight_through: bool. See `HierarchicalMultiscaleLSTMCell`.
            Defaults to `True`.
        return_sequences: bool. All steps, or the last. Defaults to `True`.
        return_boundaries: bool. Also return the boundaries `[B, T, L - 1]`
            (`[B, L - 1]` without `return_sequences`). Defaults to `False`.
        go_backwards: bool. Defaults to `False`.
        **kwargs: `keras.layers.Layer` arguments; the cell's initializers
            (`kernel_initializer`, `recurrent_initializer`, `bias_initializer`,
            `unit_forget_bias`) pass through.

    Call: `(inputs [B, T, D], mask=None, training=None)`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import HierarchicalMultiscaleLSTM

    layer = HierarchicalMultiscaleLSTM(4, num_layers=3, return_boundaries=True)
    h, z = layer(np.random.rand(2, 6, 3).astype("float32"))
    print(h.shape, z.shape)   # (2, 6, 12) (2, 6, 2)
    ```

    References:
        Chung et al., ICLR 2017, https://arxiv.org/abs/1609.01704.
    """

    _CELL_KEYS = ("kernel_initializer", "recurrent_initializer", "bias_initializer")

    def __init__(
        self,
        units,
        num_layers=2,
        slope=1.0,
        straight_through=True,
        return_sequences=True,
        return_boundaries=False,
        go_backwards=False,
        unit_forget_bias=True,
        **kwargs,
    ):
        cell_kwargs = {k: kwargs.pop(k) for k in self._CELL_KEYS if k in kwargs}
        super().__init__(**kwargs)
        self.supports_masking = True
        self.return_sequences = bool(return_sequences)
        self.return_boundaries = bool(return_boundaries)
        self.go_backwards = bool(go_backwards)
        self.cell = HierarchicalMultiscaleLSTMCell(
            units,
            num_layers=num_layers,
            slope=slope,
            straight_through=straight_through,
            return_boundaries=True,
            unit_forget_bias=unit_forget_bias,
            dtype=self.dtype_policy,
            **cell_kwargs,
        )
        self.rnn = keras.layers.RNN(
            self.cell,
            return_sequences=self.return_sequences,
            go_backwards=self.go_backwards,
            dtype=self.dtype_policy,
        )

    @property
    def slope(self):
        """The boundary detectors' hard-sigmoid slope (a non-trainable variable)."""
        return self.cell.slope

    def build(self, input_shape):
        self.rnn.build(input_shape)

    def call(self, inputs, mask=None, training=None):
        out = self.rnn(inputs, mask=mask, training=training)
        width = self.cell.units * self.cell.num_layers
        hidden = out[..., :width]
        if not self.return_boundaries:
            return hidden
        return hidden, out[..., width:]

    def compute_output_shape(self, input_shape):
        lead = tuple(input_shape[:2]) if self.return_sequences else (input_shape[0],)
        hidden = (*lead, self.cell.units * self.cell.num_layers)
        if not self.return_boundaries:
            return hidden
        return hidden, (*lead, self.cell.num_layers - 1)

    def compute_mask(self, inputs, mask=None):
        if mask is None or not self.return_sequences:
            return None
        return [mask, mask] if self.return_boundaries else mask

    def get_config(self):
        cell = self.cell
        return {
            **super().get_config(),
            "units": cell.units,
            "num_layers": cell.num_layers,
            "slope": cell.initial_slope,
            "straight_through": cell.straight_through,
            "return_sequences": self.return_sequences,
            "return_boundaries": self.return_boundaries,
            "go_backwards": self.go_backwards,
            "unit_forget_bias": cell.unit_forget_bias,
            **{k: keras.initializers.serialize(getattr(cell, k)) for k in self._CELL_KEYS},
        }
