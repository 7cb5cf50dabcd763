"""The initializer and forget-bias options our LSTM cells share with `keras.layers.LSTMCell`.

`GatedFeedbackLSTMCell`, `HierarchicalMultiscaleLSTMCell` and `MultiplicativeLSTMCell` take
Keras's `kernel_initializer`, `recurrent_initializer`, `bias_initializer` and
`unit_forget_bias` with Keras's defaults and meaning; this mixin holds them once: their
parsing, the forget-bias initializer (each cell names where its forget-gate block starts)
and their config entries.
"""

import keras
from keras import ops


class LSTMOptions:
    """Mixin for a `keras.layers.Layer` cell with `self.units` set."""

    def set_lstm_options(
        self, kernel_initializer, recurrent_initializer, bias_initializer, unit_forget_bias
    ):
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)

    def lstm_bias_initializer(self, forget_start):
        """`bias_initializer`, plus 1 on `[forget_start, forget_start + units)` if `unit_forget_bias`."""
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, start, stop = self.bias_initializer, forget_start, forget_start + self.units

        def initializer(shape, dtype=None):
            bias = base(shape, dtype=dtype)
            return ops.concatenate([bias[:start], bias[start:stop] + 1.0, bias[stop:]], axis=0)

        return initializer

    def lstm_options_config(self):
        return {
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
        }
