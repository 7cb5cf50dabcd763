"""Deep (stacked) RNNs with skip or residual connections (Graves 2013).

Stacking recurrent layers makes gradients pass through every layer at every
step; Graves (2013, eqs. 11-12) eases this with skip connections from the
input to every hidden layer and from every hidden layer to the output:

    h_1 = RNN_1(x);  h_l = RNN_l([x, h_{l-1}]);  y = [h_1, ..., h_L]

(the paper's `sum_l W_l h_l` output is a `Dense` on `y`). Residual connections
(Wu et al. 2016, GNMT) instead add each layer's input to its output from the
second layer on: `h_l = RNN_l(h_{l-1}) + h_{l-1}`. Each layer may be
bidirectional (Schuster & Paliwal 1997; Graves et al. 2013: deep
bidirectional LSTM), the forward and backward states concatenated.
Gated-feedback connections (Chung et al. 2015) let every layer read every
layer's previous state through learned global reset gates; they run the
whole stack in one `GatedFeedbackLSTMCell`.

References:
    - Graves, "Generating Sequences With Recurrent Neural Networks", 2013.
      https://arxiv.org/abs/1308.0850
    - Graves, Mohamed & Hinton, "Speech Recognition with Deep Recurrent
      Neural Networks", ICASSP 2013. https://arxiv.org/abs/1303.5778
    - Wu et al., "Google's Neural Machine Translation System", 2016.
      https://arxiv.org/abs/1609.08144
    - Chung et al., "Gated Feedback Recurrent Neural Networks", ICML 2015.
      https://arxiv.org/abs/1502.02367
"""

import keras
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, check_range
from keras_dlss.layers.gated_feedback_lstm import GatedFeedbackLSTMCell
from keras_dlss.layers.multiplicative_lstm import MultiplicativeLSTMCell

__all__ = ["StackedRNN"]

CELLS = ("lstm", "gru", "mlstm")
CONNECTIONS = ("plain", "skip", "residual", "gated_feedback")


@keras.saving.register_keras_serializable(package="keras_dlss")
class StackedRNN(keras.layers.Layer):
    """`num_layers` recurrent layers with plain, skip, residual or gated-feedback connections.

    Args:
        units: int. Units per layer (per direction).
        num_layers: int >= 1. Defaults to `2`.
        cell: `"lstm"`, `"gru"` or `"mlstm"` (`MultiplicativeLSTMCell`).
            Defaults to `"lstm"`.
        connections: `"plain"` (output of the top layer), `"skip"` (input to
            every layer, every layer to the output) or `"residual"` (each
            layer's input added to its output from the second layer on) or
            `"gated_feedback"` (Chung et al. 2015: the input to the bottom
            layer, every layer's previous state to every layer through global
            reset gates, every layer to the output; `cell="lstm"` only, see
            `GatedFeedbackLSTMCell`). Defaults to `"skip"`.
        bidirectional: bool. Every layer reads both ways; its output is
            `[forward, backward]`. Defaults to `False`.
        dropout: float in [0, 1). Dropout on each layer's input (on the stack's
            input for `"gated_feedback"`). Defaults to `0.0`.
        return_sequences: bool. Every step, or the final states (for a
            bidirectional layer: the forward state after the last step and the
            backward state after the first). Defaults to `True`.
        **kwargs: `keras.layers.Layer` arguments.

    Call: `(inputs [B, T, D], mask=None, training=None)` -> `[B, T, F]`
    (`[B, F]` without `return_sequences`), `F = k * units * L` for `"skip"`
    and `"gated_feedback"` (ordered layer by layer, each `[forward, backward]`)
    and `k * units` otherwise, `k = 2` when bidirectional.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import StackedRNN

    layer = StackedRNN(4, num_layers=3, connections="skip", bidirectional=True)
    print(layer(np.random.rand(2, 5, 3).astype("float32")).shape)   # (2, 5, 24)
    ```

    References:
        Graves, 2013, https://arxiv.org/abs/1308.0850, eqs. 11-12;
        Chung et al., ICML 2015, https://arxiv.org/abs/1502.02367.
    """

    def __init__(
        self,
        units,
        num_layers=2,
        cell="lstm",
        connections="skip",
        bidirectional=False,
        dropout=0.0,
        return_sequences=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.cell = check_one_of("cell", cell, CELLS)
        self.connections = check_one_of("connections", connections, CONNECTIONS)
        self.bidirectional = bool(bidirectional)
        self.dropout = float(check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False))
        self.return_sequences = bool(return_sequences)
        if self.connections == "gated_feedback" and self.cell != "lstm":
            raise ValueError(
                'Argument `cell` must be "lstm" with connections="gated_feedback". '
                f"Received: cell={cell!r}"
            )
        self.supports_masking = True
        # Gated feedback reads the upper layers' previous states: one cell runs the whole stack.
        stages = 1 if self.connections == "gated_feedback" else self.num_layers
        self.rnns = [self._make_rnn(k) for k in range(stages)]
        self.dropouts = [
            keras.layers.Dropout(self.dropout, dtype=self.dtype_policy) for _ in range(stages)
        ]

    def _make_rnn(self, k):
        dtype = self.dtype_policy
        if self.connections == "gated_feedback":
            cell = GatedFeedbackLSTMCell(self.units, self.num_layers, dtype=dtype)
        elif self.cell == "lstm":
            cell = keras.layers.LSTMCell(self.units, dtype=dtype)
        elif self.cell == "gru":
            cell = keras.layers.GRUCell(self.units, dtype=dtype)
        else:
            cell = MultiplicativeLSTMCell(self.units, dtype=dtype)
        rnn = keras.layers.RNN(cell, return_sequences=True, dtype=dtype, name=f"rnn_{k}")
        if self.bidirectional:
            rnn = keras.layers.Bidirectional(rnn, dtype=dtype, name=f"bidirectional_{k}")
        return rnn

    @property
    def _width(self):
        return self.units * (2 if self.bidirectional else 1)

    def build(self, input_shape):
        dim = input_shape[-1]
        for k, rnn in enumerate(self.rnns):
            if k == 0:
                in_dim = dim
            elif self.connections == "skip":
                in_dim = dim + self._width
            else:
                in_dim = self._width
            rnn.build((*input_shape[:-1], in_dim))

    def call(self, inputs, mask=None, training=None):
        outputs, below = [], inputs
        for k, (rnn, drop) in enumerate(zip(self.rnns, self.dropouts)):
            layer_input = below
            if k > 0 and self.connections == "skip":
                layer_input = ops.concatenate([inputs, below], axis=-1)
            out = rnn(drop(layer_input, training=training), mask=mask, training=training)
            if k > 0 and self.connections == "residual":
                out = out + below
            outputs.append(out)
            below = out
        y = ops.concatenate(outputs, axis=-1) if self.connections == "skip" else below
        if self.connections == "gated_feedback" and self.bidirectional:
            y = self._interleave(y)
        if self.return_sequences:
            return y
        return self._final_states(y, mask)

    def _interleave(self, y):
        # `Bidirectional` returns [forward h_1..h_L, backward h_1..h_L]; reorder to the skip
        # layout [forward h_1, backward h_1, ..., forward h_L, backward h_L].
        u, n = self.units, self.num_layers
        parts = []
        for k in range(n):
            parts += [y[..., k * u : (k + 1) * u], y[..., (n + k) * u : (n + k + 1) * u]]
        return ops.concatenate(parts, axis=-1)

    def _final_states(self, y, mask):
        # Keras zeroes the outputs of masked steps inside `Bidirectional`, so the final states
        # are gathered where each direction ends: the last unmasked step forward, the first
        # unmasked step backward (the backward RNN reads from the end).
        steps = ops.shape(y)[1]
        if mask is None:
            last = ops.zeros_like(y[:, 0, 0], dtype="int32") + (steps - 1)
            first = ops.zeros_like(last)
        else:
            m = ops.cast(mask, "int32")
            last = ops.cast(steps - 1 - ops.argmax(ops.flip(m, axis=1), axis=1), "int32")
            first = ops.cast(ops.argmax(m, axis=1), "int32")

        def at(index):
            return ops.take_along_axis(y, index[:, None, None], axis=1)[:, 0]

        if not self.bidirectional:
            return at(last)
        forward, backward, u, parts = at(last), at(first), self.units, []
        for k in range(y.shape[-1] // (2 * u)):
            parts += [
                forward[:, 2 * k * u : (2 * k + 1) * u],
                backward[:, (2 * k + 1) * u : (2 * k + 2) * u],
            ]
        return ops.concatenate(parts, axis=-1)

    def compute_output_shape(self, input_shape):
        stacked = self.connections in ("skip", "gated_feedback")
        width = self._width * (self.num_layers if stacked else 1)
        if self.return_sequences:
            return (*input_shape[:2], width)
        return (input_shape[0], width)

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "num_layers": self.num_layers,
            "cell": self.cell,
            "connections": self.connections,
            "bidirectional": self.bidirectional,
            "dropout": self.dropout,
            "return_sequences": self.return_sequences,
        }
