import keras
import numpy as np
import pytest

from keras_dlss.layers import MultiplicativeLSTMCell
from keras_dlss.testing import run_layer_test

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 5, 4)).astype("float32")


@keras.saving.register_keras_serializable(package="keras_dlss_tests")
class MLSTMSequence(keras.layers.Layer):
    """`RNN(MultiplicativeLSTMCell)` as one layer with its own dtype policy, for the harness."""

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.supports_masking = True
        self.rnn = keras.layers.RNN(
            MultiplicativeLSTMCell(units, dtype=self.dtype_policy),
            return_sequences=True,
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        self.rnn.build(input_shape)

    def call(self, inputs, mask=None):
        return self.rnn(inputs, mask=mask)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], self.units)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_mlstm(x, kernel, multiplicative_kernel, recurrent_kernel, bias, mask=None):
    """Krause et al. 2016, eqs. 18-24, one step at a time (float64)."""
    batch, steps, _ = x.shape
    u = multiplicative_kernel.shape[0]
    w_mx, w_x = kernel[:, :u], kernel[:, u:]
    h, c = np.zeros((batch, u)), np.zeros((batch, u))
    outputs = []
    for t in range(steps):
        m = (x[:, t] @ w_mx) * (h @ multiplicative_kernel)
        z = x[:, t] @ w_x + m @ recurrent_kernel + bias
        i, f = _sigmoid(z[:, :u]), _sigmoid(z[:, u : 2 * u])
        g, o = np.tanh(z[:, 2 * u : 3 * u]), _sigmoid(z[:, 3 * u :])
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        keep = np.ones((batch, 1)) if mask is None else mask[:, t, None]
        h, c = keep * h_new + (1 - keep) * h, keep * c_new + (1 - keep) * c
        outputs.append(h)
    return np.stack(outputs, 1)


def test_conformance():
    # Float64 gradients through the RNN loop, masks by effect, XLA, .keras, SavedModel.
    run_layer_test(MLSTMSequence, {"units": 3}, X, expected_output_shape=(3, 5, 3))


def test_matches_unrolled_numpy_reference_with_mask():
    rnn = keras.layers.RNN(MultiplicativeLSTMCell(6), return_sequences=True)
    mask = np.array([[1] * 5, [1] * 3 + [0] * 2, [1] * 1 + [0] * 4], bool)
    out = np.asarray(rnn(X, mask=mask))
    weights = [np.asarray(w, "float64") for w in rnn.cell.weights]
    expected = numpy_mlstm(X.astype("float64"), *weights, mask=mask.astype("float64"))
    # Keras zeroes nothing for masked steps of return_sequences: it repeats the last state.
    np.testing.assert_allclose(out, expected, atol=2e-5)
    assert not np.allclose(out[:, 1:], 0.0)


def test_forget_bias_and_state_sizes():
    cell = MultiplicativeLSTMCell(4)
    cell.build((None, 2))
    bias = np.asarray(cell.bias)
    np.testing.assert_array_equal(bias[4:8], 1.0)
    np.testing.assert_array_equal(np.delete(bias, np.s_[4:8]), 0.0)
    assert cell.state_size == [4, 4] and cell.output_size == 4


def test_input_dependent_transition_differs_from_lstm():
    # The recurrent contribution is gated by the input: zero input -> m = 0, so h[t-1] has no
    # effect on the gates (an LSTM's would).
    cell = MultiplicativeLSTMCell(3)
    cell.build((None, 2))
    zeros = np.zeros((1, 2), "float32")
    h1 = np.asarray(cell(zeros, [np.ones((1, 3), "float32"), np.zeros((1, 3), "float32")])[0])
    h0 = np.asarray(cell(zeros, [np.zeros((1, 3), "float32"), np.zeros((1, 3), "float32")])[0])
    np.testing.assert_allclose(h1, h0, atol=1e-7)


def test_bad_units():
    with pytest.raises(ValueError, match="`units`.*Received"):
        MultiplicativeLSTMCell(0)
