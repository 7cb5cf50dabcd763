"""Gated-feedback LSTM (Chung et al. 2015) in StackedRNN against an unrolled NumPy reference."""

import keras
import numpy as np
import pytest

from keras_dlss.layers import GatedFeedbackLSTMCell, StackedRNN
from keras_dlss.testing import run_layer_test

RNG = np.random.default_rng(1)
X = RNG.normal(size=(3, 5, 4)).astype("float32")
MASK = np.array([[1] * 5, [1] * 3 + [0] * 2, [1] * 1 + [0] * 4], bool)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_gated_feedback(x, weights, units, num_layers, mask, backwards=False):
    """Eqs. 12-15 with one explicit term per connection i -> j; masked steps keep the state."""
    u, n = units, num_layers
    batch, steps, _ = x.shape
    h = [np.zeros((batch, u)) for _ in range(n)]
    c = [np.zeros((batch, u)) for _ in range(n)]
    out = np.zeros((batch, steps, n * u))
    for t in range(steps - 1, -1, -1) if backwards else range(steps):
        h_star = np.concatenate(h, -1)
        below, new_h, new_c = x[:, t], [], []
        for j in range(n):
            kernel, recurrent, feedback, gate, bias = weights[5 * j : 5 * j + 5]
            s = below @ kernel + bias
            i_g, f_g, o_g = (
                _sigmoid(s[:, k * u : (k + 1) * u] + h[j] @ recurrent[:, k * u : (k + 1) * u])
                for k in range(3)
            )
            pre = s[:, 3 * u : 4 * u].copy()
            for i in range(n):
                g_ij = _sigmoid(s[:, 4 * u + i] + h_star @ gate[:, i])
                pre += g_ij[:, None] * (h[i] @ feedback[i * u : (i + 1) * u])
            new_c.append(f_g * c[j] + i_g * np.tanh(pre))
            new_h.append(o_g * np.tanh(new_c[-1]))
            below = new_h[-1]
        keep = mask[:, t, None].astype(float)
        h = [keep * a + (1 - keep) * b for a, b in zip(new_h, h)]
        c = [keep * a + (1 - keep) * b for a, b in zip(new_c, c)]
        out[:, t] = np.concatenate(h, -1)
    return out


def _weights(layer):
    return [_np(w).astype("float64") for w in layer.weights]


def test_gated_feedback_matches_numpy_three_layers_masked():
    layer = StackedRNN(3, num_layers=3, connections="gated_feedback")
    out = _np(layer(X, mask=MASK))
    expected = numpy_gated_feedback(X.astype("float64"), _weights(layer), 3, 3, MASK)
    np.testing.assert_allclose(out, expected, atol=2e-5)
    # The feedback matters: upper layers' previous states change the bottom layer.
    cell = layer.rnns[0].cell
    feedback = cell.feedback_kernels[0]
    feedback.assign(np.zeros(feedback.shape, "float32"))
    assert np.abs(_np(layer(X, mask=MASK))[..., :3] - out[..., :3]).max() > 1e-3


def test_gated_feedback_bidirectional_layout_and_final_states():
    layer = StackedRNN(2, num_layers=2, connections="gated_feedback", bidirectional=True)
    out = _np(layer(X, mask=MASK))
    weights, x = _weights(layer), X.astype("float64")
    forward = numpy_gated_feedback(x, weights[:10], 2, 2, MASK)
    backward = numpy_gated_feedback(x, weights[10:], 2, 2, MASK, backwards=True)
    expected = np.concatenate(
        [forward[..., :2], backward[..., :2], forward[..., 2:], backward[..., 2:]], -1
    )
    valid = MASK[:, :, None]  # Keras's backward direction emits zeros on unreached masked steps
    np.testing.assert_allclose(out * valid, expected * valid, atol=2e-5)
    final = StackedRNN(
        2, num_layers=2, connections="gated_feedback", bidirectional=True, return_sequences=False
    )
    final.build(X.shape)
    final.set_weights(layer.get_weights())
    last = _np(final(X, mask=MASK))
    for b, steps in enumerate(MASK.sum(1)):
        for k in range(2):
            np.testing.assert_allclose(
                last[b, 4 * k : 4 * k + 2], out[b, steps - 1, 4 * k : 4 * k + 2], atol=1e-6
            )
            np.testing.assert_allclose(
                last[b, 4 * k + 2 : 4 * k + 4], out[b, 0, 4 * k + 2 : 4 * k + 4], atol=1e-6
            )


def test_gated_feedback_conformance():
    run_layer_test(
        StackedRNN,
        {"units": 2, "num_layers": 2, "connections": "gated_feedback"},
        X[:2, :4],
        expected_output_shape=(2, 4, 4),
    )


def test_gated_feedback_bad_arguments():
    with pytest.raises(ValueError, match="`cell`.*Received"):
        StackedRNN(3, cell="gru", connections="gated_feedback")
    with pytest.raises(ValueError, match="`num_layers`.*Received"):
        GatedFeedbackLSTMCell(3, num_layers=0)
