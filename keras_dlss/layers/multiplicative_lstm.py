"""Multiplicative LSTM cell (Krause et al. 2016), for `keras.layers.RNN`.

An LSTM's recurrent transition is the same matrix for every input; the
multiplicative RNN (Sutskever et al. 2011) makes it input-dependent through a
factorised intermediate state, and the mLSTM feeds that state to every LSTM
gate in place of `h[t-1]` (Krause et al. 2016, eqs. 18-24):

    m[t] = (W_mx x[t]) * (W_mh h[t-1])
    i, f, o = sigmoid(W_.x x[t] + W_.m m[t] + b_.)
    c[t] = f * c[t-1] + i * tanh(W_hx x[t] + W_hm m[t] + b_h)
    h[t] = o * tanh(c[t])

The cell is a plain Keras RNN cell (`state_size=[units, units]`, states
`[h, c]` like `keras.layers.LSTMCell`), so masks, `initial_state`,
`return_state`, `go_backwards`, XLA and `.keras` saving all come from
`keras.layers.RNN`.

References:
    - Krause et al., "Multiplicative LSTM for sequence modelling", 2016.
      https://arxiv.org/abs/1609.07959
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int
from keras_dlss.layers._lstm_options import LSTMOptions

__all__ = ["MultiplicativeLSTMCell"]


@keras.saving.register_keras_serializable(package="keras_dlss")
class MultiplicativeLSTMCell(LSTMOptions, keras.layers.Layer):
    """Multiplicative LSTM cell: input-dependent recurrent transitions through `m[t]`.

    Args:
        units: int. Size of `h`, `c` and the intermediate state `m`.
        kernel_initializer: initializer of the input kernels. Defaults to
            `"glorot_uniform"`.
        recurrent_initializer: initializer of `W_mh` and the `m` kernels.
            Defaults to `"orthogonal"`.
        bias_initializer: Defaults to `"zeros"`.
        unit_forget_bias: bool. Add 1 to the forget-gate bias at
            initialization (Jozefowicz et al. 2015). Defaults to `True`.
        **kwargs: `keras.layers.Layer` arguments.

    Call: `(inputs [B, D], states [h, c]) -> (h [B, units], [h, c])`; use it as
    `keras.layers.RNN(MultiplicativeLSTMCell(units))`.

    Example:

    ```python
    import numpy as np
    import keras
    from keras_dlss.layers import MultiplicativeLSTMCell

    rnn = keras.layers.RNN(MultiplicativeLSTMCell(8), return_sequences=True)
    print(rnn(np.random.rand(2, 5, 3).astype("float32")).shape)   # (2, 5, 8)
    ```

    References:
        Krause et al., 2016, https://arxiv.org/abs/1609.07959.
    """

    def __init__(
        self,
        units,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.set_lstm_options(
            kernel_initializer, recurrent_initializer, bias_initializer, unit_forget_bias
        )
        self.state_size = [self.units, self.units]
        self.output_size = self.units

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(
                f"Argument `input_shape` must have a known last axis. Received: input_shape={input_shape}"
            )
        u = self.units
        # Columns: [W_mx | W_ix W_fx W_hx W_ox]; one matmul per step for every x term.
        self.kernel = self.add_weight(
            shape=(dim, 5 * u), initializer=self.kernel_initializer, name="kernel"
        )
        self.multiplicative_kernel = self.add_weight(
            shape=(u, u), initializer=self.recurrent_initializer, name="multiplicative_kernel"
        )
        self.recurrent_kernel = self.add_weight(
            shape=(u, 4 * u), initializer=self.recurrent_initializer, name="recurrent_kernel"
        )
        self.bias = self.add_weight(
            shape=(4 * u,), initializer=self.lstm_bias_initializer(u), name="bias"
        )

    def call(self, inputs, states, training=None):
        h, c = states[0], states[1]
        u = self.units
        x_terms = ops.matmul(inputs, self.kernel)
        m = x_terms[:, :u] * ops.matmul(h, self.multiplicative_kernel)
        z = x_terms[:, u:] + ops.matmul(m, self.recurrent_kernel) + self.bias
        i = ops.sigmoid(z[:, :u])
        f = ops.sigmoid(z[:, u : 2 * u])
        candidate = ops.tanh(z[:, 2 * u : 3 * u])
        o = ops.sigmoid(z[:, 3 * u :])
        c = f * c + i * candidate
        h = o * ops.tanh(c)
        return h, [h, c]

    def get_initial_state(self, batch_size=None):
        zeros = ops.zeros((batch_size, self.units), dtype=self.compute_dtype)
        return [zeros, zeros]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            **self.lstm_options_config(),
        }
