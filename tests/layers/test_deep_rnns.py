"""StackedRNN (Graves 2013) and MultiDimensionalRNN (Graves et al. 2007) against NumPy."""

import keras
import numpy as np
import pytest

from keras_dlss.layers import MultiDimensionalRNN, StackedRNN
from keras_dlss.ops.multi_dimensional_lstm import skew_grid, unskew_grid
from keras_dlss.testing import run_layer_test


def _np(x):
    # `np.asarray` fails on torch tensors that require grad.
    return keras.ops.convert_to_numpy(x)


RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 5, 4)).astype("float32")
MASK = np.array([[1] * 5, [1] * 3 + [0] * 2, [1] * 1 + [0] * 4], bool)
IMAGES = RNG.normal(size=(2, 3, 4, 2)).astype("float32")


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_lstm(x, kernel, recurrent, bias, mask=None, backwards=False):
    """Keras LSTM (gates i, f, g, o) one step at a time; masked steps keep the state."""
    batch, steps, _ = x.shape
    u = recurrent.shape[0]
    h, c = np.zeros((batch, u)), np.zeros((batch, u))
    out = np.zeros((batch, steps, u))
    order = range(steps - 1, -1, -1) if backwards else range(steps)
    for t in order:
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f = _sigmoid(z[:, :u]), _sigmoid(z[:, u : 2 * u])
        g, o = np.tanh(z[:, 2 * u : 3 * u]), _sigmoid(z[:, 3 * u :])
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        keep = np.ones((batch, 1)) if mask is None else mask[:, t, None].astype(float)
        h, c = keep * h_new + (1 - keep) * h, keep * c_new + (1 - keep) * c
        out[:, t] = h
    return out


def numpy_stacked(x, layer, mask):
    weights = [_np(w).astype("float64") for w in layer.weights]
    per_dir = 3
    outputs, below = [], x
    for k in range(layer.num_layers):
        layer_in = (
            below if k == 0 or layer.connections != "skip" else np.concatenate([x, below], -1)
        )
        dirs = 2 if layer.bidirectional else 1
        w = weights[(k * dirs) * per_dir : (k * dirs + dirs) * per_dir]
        out = numpy_lstm(layer_in, *w[:3], mask=mask)
        if dirs == 2:
            out = np.concatenate([out, numpy_lstm(layer_in, *w[3:], mask=mask, backwards=True)], -1)
        if k > 0 and layer.connections == "residual":
            out = out + below
        outputs.append(out)
        below = out
    return np.concatenate(outputs, -1) if layer.connections == "skip" else below


def test_stacked_conformance():
    run_layer_test(
        StackedRNN,
        {"units": 3, "num_layers": 2, "connections": "skip"},
        X,
        expected_output_shape=(3, 5, 6),
    )


@pytest.mark.parametrize(
    "connections,bidirectional", [("skip", True), ("residual", False), ("plain", False)]
)
def test_stacked_matches_numpy(connections, bidirectional):
    layer = StackedRNN(3, num_layers=3, connections=connections, bidirectional=bidirectional)
    out = _np(layer(X, mask=MASK))
    expected = numpy_stacked(X.astype("float64"), layer, MASK)
    # Keras's backward direction emits zeros on masked steps it has not reached yet.
    valid = MASK[:, :, None] if bidirectional else np.ones_like(MASK[:, :, None])
    np.testing.assert_allclose(out * valid, expected * valid, atol=2e-5)


def test_stacked_final_states_bidirectional():
    seq = StackedRNN(3, num_layers=2, bidirectional=True, connections="plain")
    final = StackedRNN(
        3, num_layers=2, bidirectional=True, connections="plain", return_sequences=False
    )
    final.build(X.shape)
    seq.build(X.shape)
    final.set_weights(seq.get_weights())
    full = _np(seq(X, mask=MASK))
    last = _np(final(X, mask=MASK))
    lengths = MASK.sum(1)
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(last[b, :3], full[b, n - 1, :3], atol=1e-6)
        np.testing.assert_allclose(last[b, 3:], full[b, 0, 3:], atol=1e-6)
    uni = StackedRNN(3, num_layers=2, connections="skip", return_sequences=False)
    uni_seq = StackedRNN(3, num_layers=2, connections="skip")
    uni.build(X.shape)
    uni_seq.build(X.shape)
    uni.set_weights(uni_seq.get_weights())
    full = _np(uni_seq(X, mask=MASK))
    np.testing.assert_allclose(_np(uni(X, mask=MASK)), full[np.arange(3), lengths - 1], atol=1e-6)
    np.testing.assert_allclose(_np(uni(X)), _np(uni_seq(X))[:, -1], atol=1e-6)


def numpy_md_lstm(x, kernel, up, left, bias):
    """Graves et al. 2007 2-D LSTM, pixel by pixel in raster order (float64)."""
    batch, height, width, _ = x.shape
    u = up.shape[0]
    h = np.zeros((batch, height + 1, width + 1, u))
    c = np.zeros_like(h)
    for i in range(height):
        for j in range(width):
            s = x[:, i, j] @ kernel + h[:, i, j + 1] @ up + h[:, i + 1, j] @ left + bias
            gi, fu, fl, o = (_sigmoid(s[:, k * u : (k + 1) * u]) for k in range(4))
            g = np.tanh(s[:, 4 * u :])
            c[:, i + 1, j + 1] = gi * g + fu * c[:, i, j + 1] + fl * c[:, i + 1, j]
            h[:, i + 1, j + 1] = o * np.tanh(c[:, i + 1, j + 1])
    return h[:, 1:, 1:]


def test_skew_roundtrip():
    grid = RNG.normal(size=(2, 3, 5, 1)).astype("float32")
    skewed = _np(skew_grid(grid))
    assert skewed.shape == (2, 3, 7, 1)
    for i in range(3):
        np.testing.assert_array_equal(skewed[:, i, i : i + 5], grid[:, i])
    np.testing.assert_array_equal(_np(unskew_grid(skewed, 5)), grid)


def test_md_rnn_matches_numpy_four_directions():
    layer = MultiDimensionalRNN(3, directions=4)
    out = _np(layer(IMAGES))
    kernel, up, left, bias = (_np(w).astype("float64") for w in layer.weights)
    x = IMAGES.astype("float64")
    for k in range(4):
        flip = [a for a, on in ((1, k // 2), (2, k % 2)) if on]
        ref = numpy_md_lstm(np.flip(x, flip), kernel[k], up[k], left[k], bias[k])
        np.testing.assert_allclose(out[..., 3 * k : 3 * k + 3], np.flip(ref, flip), atol=2e-5)
    final = MultiDimensionalRNN(3, directions=4, return_grid=False)
    final.build(IMAGES.shape)
    final.set_weights(layer.get_weights())
    corners = [(-1, -1), (-1, 0), (0, -1), (0, 0)]
    expected = np.concatenate(
        [out[:, i, j, 3 * k : 3 * k + 3] for k, (i, j) in enumerate(corners)], -1
    )
    np.testing.assert_allclose(_np(final(IMAGES)), expected, atol=1e-6)


def test_md_rnn_conformance():
    run_layer_test(
        MultiDimensionalRNN,
        {"units": 2, "directions": 4},
        IMAGES,
        expected_output_shape=(2, 3, 4, 8),
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match="`connections`.*Received"):
        StackedRNN(3, connections="dense")
    with pytest.raises(ValueError, match="`cell`.*Received"):
        StackedRNN(3, cell="rnn")
    with pytest.raises(ValueError, match="`directions`.*Received"):
        MultiDimensionalRNN(3, directions=2)
    with pytest.raises(ValueError, match="`inputs`.*Received"):
        MultiDimensionalRNN(3)(np.zeros((2, 3, 4), "float32"))
    with pytest.raises(ValueError, match="`inputs`.*Received"):
        MultiDimensionalRNN(3).build((None, None, 4, 1))
