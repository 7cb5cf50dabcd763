"""Gated-feedback LSTM (Chung et al. 2015), a whole stack in one `keras.layers.RNN` cell.

In a plain stack, layer `j` at step `t` sees only its own previous state. A
gated-feedback RNN lets every layer read every layer's previous state, each
connection `i -> j` scaled by a scalar *global reset gate* computed from the
layer's input and all previous states `h*[t-1] = [h_1, ..., h_L][t-1]`
(eqs. 12 and 15):

    g[i->j] = sigmoid(w_g[i->j] . h_{j-1}[t] + u_g[i->j] . h*[t-1])
    i, f, o = sigmoid(W h_{j-1}[t] + U h_j[t-1])
    c~ = tanh(W_c h_{j-1}[t] + sum_i g[i->j] U_c[i->j] h_i[t-1])
    c = f * c[t-1] + i * c~;  h_j = o * tanh(c)

with `h_0[t] = x[t]`. The gates decide how much of the faster (lower) and
slower (upper) layers' memory enters each layer, so the timescales are
learned rather than fixed by the layer order. Because layer `j` reads layer
`j + 1`'s state from the previous step, the stack cannot be split into one
`keras.layers.RNN` per layer: one cell carries all layers, and masks,
`go_backwards`, `Bidirectional` and XLA come from `keras.layers.RNN`. Biases,
omitted in the paper's equations, are included (forget bias 1).

References:
    - Chung, Gulcehre, Cho & Bengio, "Gated Feedback Recurrent Neural
      Networks", ICML 2015. https://arxiv.org/abs/1502.02367
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int
from keras_dlss.layers._lstm_options import LSTMOptions

__all__ = ["GatedFeedbackLSTMCell"]


@keras.saving.register_keras_serializable(package="keras_dlss")
class GatedFeedbackLSTMCell(LSTMOptions, keras.layers.Layer):
    """Gated-feedback LSTM cell: `num_layers` LSTMs, every layer reading all previous states.

    Args:
        units: int. Units per layer.
        num_layers: int >= 1. Layers in the stack. Defaults to `2`.
        kernel_initializer: initializer of the bottom-up kernels (input or
            layer below). Defaults to `"glorot_uniform"`.
        recurrent_initializer: initializer of the recurrent, feedback and
            gate-feedback kernels. Defaults to `"orthogonal"`.
        bias_initializer: Defaults to `"zeros"`.
        unit_forget_bias: bool. Add 1 to the forget-gate bias. Defaults to `True`.
        **kwargs: `keras.layers.Layer` arguments.

    Call: `(inputs [B, D], states) -> (output, states)` with output
    `h* = concat(h_1, ..., h_L)` `[B, L * units]` and states `[h*, c*]`
    (`c*` the cells, same layout). Weights per layer `j`: `kernel_j`
    `[D_j, 4 units + L]` (columns: `i, f, o, c~`, then the `L` reset-gate
    logits `w_g[i->j]`), `recurrent_kernel_j` `[units, 3 units]` (`i, f, o`),
    `feedback_kernel_j` `[L units, units]` (the `U_c[i->j]` stacked over
    `i`), `gate_kernel_j` `[L units, L]` (the `u_g[i->j]`), `bias_j`.

    Example:

    ```python
    import numpy as np
    import keras
    from keras_dlss.layers import GatedFeedbackLSTMCell

    rnn = keras.layers.RNN(GatedFeedbackLSTMCell(4, num_layers=3), return_sequences=True)
    print(rnn(np.random.rand(2, 5, 3).astype("float32")).shape)   # (2, 5, 12)
    ```

    References:
        Chung et al., ICML 2015, https://arxiv.org/abs/1502.02367, eqs. 12-15.
    """

    def __init__(
        self,
        units,
        num_layers=2,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.set_lstm_options(
            kernel_initializer, recurrent_initializer, bias_initializer, unit_forget_bias
        )
        self.output_size = self.units * self.num_layers
        # The output is the first state: Keras's JAX and torch RNNs emit `states[0]` at masked
        # steps, so the previous output must be carried there.
        self.state_size = [self.output_size, self.output_size]

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(
                "Argument `input_shape` must have a known last axis. "
                f"Received: input_shape={input_shape}"
            )
        u, n = self.units, self.num_layers
        self.kernels, self.recurrent_kernels = [], []
        self.feedback_kernels, self.gate_kernels, self.biases = [], [], []
        for j in range(n):
            self.kernels.append(
                self.add_weight(
                    shape=(dim if j == 0 else u, 4 * u + n),
                    initializer=self.kernel_initializer,
                    name=f"kernel_{j}",
                )
            )
            self.recurrent_kernels.append(
                self.add_weight(
                    shape=(u, 3 * u),
                    initializer=self.recurrent_initializer,
                    name=f"recurrent_kernel_{j}",
                )
            )
            self.feedback_kernels.append(
                self.add_weight(
                    shape=(n * u, u),
                    initializer=self.recurrent_initializer,
                    name=f"feedback_kernel_{j}",
                )
            )
            self.gate_kernels.append(
                self.add_weight(
                    shape=(n * u, n),
                    initializer=self.recurrent_initializer,
                    name=f"gate_kernel_{j}",
                )
            )
            self.biases.append(
                self.add_weight(
                    shape=(4 * u + n,), initializer=self.lstm_bias_initializer(u), name=f"bias_{j}"
                )
            )

    def call(self, inputs, states, training=None):
        u, n = self.units, self.num_layers
        h_all, c_all = states[0], states[1]
        below, hs, cs = inputs, [], []
        for j in range(n):
            s = ops.matmul(below, self.kernels[j]) + self.biases[j]
            h_prev, c_prev = h_all[:, j * u : (j + 1) * u], c_all[:, j * u : (j + 1) * u]
            gates = ops.sigmoid(s[:, : 3 * u] + ops.matmul(h_prev, self.recurrent_kernels[j]))
            reset = ops.sigmoid(s[:, 4 * u :] + ops.matmul(h_all, self.gate_kernels[j]))
            # sum_i g[i->j] U_c[i->j] h_i = (each block h_i scaled by its gate) @ stacked U_c.
            # Static slices, not `ops.repeat`: TF's gradient of a repeat does not compile with XLA.
            gated = [reset[:, i : i + 1] * h_all[:, i * u : (i + 1) * u] for i in range(n)]
            feedback = ops.matmul(ops.concatenate(gated, axis=-1), self.feedback_kernels[j])
            candidate = ops.tanh(s[:, 3 * u : 4 * u] + feedback)
            c = gates[:, u : 2 * u] * c_prev + gates[:, :u] * candidate
            h = gates[:, 2 * u :] * ops.tanh(c)
            hs.append(h)
            cs.append(c)
            below = h
        output = ops.concatenate(hs, axis=-1)
        return output, [output, ops.concatenate(cs, axis=-1)]

    def get_initial_state(self, batch_size=None):
        zeros = ops.zeros((batch_size, self.output_size), dtype=self.compute_dtype)
        return [zeros, zeros]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "num_layers": self.num_layers,
            **self.lstm_options_config(),
        }
