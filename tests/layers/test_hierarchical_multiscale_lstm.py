import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.layers import HierarchicalMultiscaleLSTM, HierarchicalMultiscaleLSTMCell
from keras_dlss.ops.hierarchical_multiscale import hmlstm_update, straight_through_boundary
from keras_dlss.testing import run_layer_test


def _np(x):
    # `np.asarray` fails on torch tensors that require grad.
    return keras.ops.convert_to_numpy(x)


RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 6, 4)).astype("float32")


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_hmlstm(x, cell, mask=None):
    """Chung et al. 2017, eqs. 1-7, written out with explicit branches (float64)."""
    u, n = cell.units, cell.num_layers
    kern = [_np(w).astype("float64") for w in cell.kernels]
    rec = [_np(w).astype("float64") for w in cell.recurrent_kernels]
    td = [_np(w).astype("float64") for w in cell.top_down_kernels]
    bias = [_np(w).astype("float64") for w in cell.biases]
    batch, steps, _ = x.shape
    h = np.zeros((n, batch, u))
    c = np.zeros((n, batch, u))
    z = np.zeros((n, batch))
    hs, zs, ops_seen = [], [], set()
    for t in range(steps):
        h_new, c_new, z_new = h.copy(), c.copy(), z.copy()
        for b in range(batch):
            below, z_below = x[b, t], 1.0
            for k in range(n):
                s = z_below * below @ kern[k] + h[k, b] @ rec[k] + bias[k]
                if k < n - 1:
                    s = s + z[k, b] * (h[k + 1, b] @ td[k])
                f, i, o = _sigmoid(s[:u]), _sigmoid(s[u : 2 * u]), _sigmoid(s[2 * u : 3 * u])
                g = np.tanh(s[3 * u : 4 * u])
                if z[k, b] == 1:
                    ops_seen.add("flush")
                    c_new[k, b] = i * g
                    h_new[k, b] = o * np.tanh(c_new[k, b])
                elif z_below == 1:
                    ops_seen.add("update")
                    c_new[k, b] = f * c[k, b] + i * g
                    h_new[k, b] = o * np.tanh(c_new[k, b])
                else:
                    ops_seen.add("copy")
                    c_new[k, b], h_new[k, b] = c[k, b], h[k, b]
                z_new[k, b] = float(s[4 * u] > 0) if k < n - 1 else 0.0
                below, z_below = h_new[k, b], z_new[k, b]
        keep = np.ones(batch) if mask is None else mask[:, t].astype("float64")
        h = keep[None, :, None] * h_new + (1 - keep[None, :, None]) * h
        c = keep[None, :, None] * c_new + (1 - keep[None, :, None]) * c
        z = keep[None] * z_new + (1 - keep[None]) * z
        hs.append(np.concatenate(list(h), -1))
        zs.append(z[: n - 1].T.copy())
    return np.stack(hs, 1), np.stack(zs, 1), ops_seen


@keras.saving.register_keras_serializable(package="keras_dlss_tests")
class HMLSTMNoStraightThrough(HierarchicalMultiscaleLSTM):
    """The harness's finite differences see the true (zero) derivative of the step function."""

    def __init__(self, units=3, **kwargs):
        kwargs.pop("straight_through", None)
        super().__init__(units, straight_through=False, **kwargs)


def test_conformance():
    run_layer_test(
        HMLSTMNoStraightThrough,
        {"units": 3, "num_layers": 2},
        X,
        expected_output_shape=(3, 6, 6),
    )


def test_matches_numpy_reference_with_mask_all_three_operations():
    layer = HierarchicalMultiscaleLSTM(5, num_layers=3, return_boundaries=True)
    layer.build(X.shape)
    # Boundary biases around 0 so that both boundary values occur in six steps.
    for k, b in enumerate(layer.cell.biases[:-1]):
        b.assign(ops.concatenate([b[:-1], ops.convert_to_tensor([0.3 - 0.6 * k])], 0))
    mask = np.array([[1] * 6, [1] * 4 + [0] * 2, [1] * 2 + [0] * 4], bool)
    h, z = layer(X, mask=mask)
    h_ref, z_ref, seen = numpy_hmlstm(X.astype("float64"), layer.cell, mask)
    np.testing.assert_array_equal(_np(z), z_ref)
    np.testing.assert_allclose(_np(h), h_ref, atol=2e-5)
    assert seen == {"copy", "update", "flush"}


def test_hand_set_boundaries_copy_update_flush():
    # Input feature 0 alone drives layer 1's boundary: z = 1 exactly where x[t, 0] > 0.
    cell = HierarchicalMultiscaleLSTMCell(3, num_layers=2, return_boundaries=True)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    x = RNG.normal(size=(1, 7, 2)).astype("float32")
    x[0, :, 0] = [1, -1, -1, 1, 1, -1, -1]
    rnn.build(x.shape)
    kernel = _np(cell.kernels[0]).copy()
    kernel[:, -1] = [10.0, 0.0]
    cell.kernels[0].assign(kernel)
    for w in (cell.recurrent_kernels[0], cell.top_down_kernels[0], cell.biases[0]):
        w.assign(np.concatenate([_np(w)[..., :-1], np.zeros_like(w)[..., -1:]], -1))
    out = _np(rnn(x))[0]
    z = (x[0, :, 0] > 0).astype("float32")
    np.testing.assert_array_equal(out[:, -1], z)
    top = out[:, 3:6]
    for t in range(1, 7):
        if z[t] == 0:  # COPY: no boundary below, the top layer keeps its state
            np.testing.assert_array_equal(top[t], top[t - 1])
        else:  # UPDATE
            assert not np.allclose(top[t], top[t - 1])
    h_ref, z_ref, seen = numpy_hmlstm(x.astype("float64"), cell)
    np.testing.assert_allclose(out[:, :6], h_ref[0], atol=2e-5)
    assert seen == {"copy", "update", "flush"}
    # FLUSH: after a boundary at t=0 the bottom layer's cell at t=1 is i * g, with no
    # f * c[t-1] term, and the top-down term z * U_td h_top enters the gates.
    state = rnn.cell.get_initial_state(1)
    _, after_boundary = cell(x[:, 0], state)
    _, fresh = cell(x[:, 1], state)
    _, flushed = cell(x[:, 1], after_boundary)
    top_down = _np(after_boundary[4]) @ _np(cell.top_down_kernels[0])
    assert np.any(np.abs(top_down) > 0)
    u = 3
    gates = _np(x[:, 1] @ _np(cell.kernels[0]) + _np(cell.biases[0]))
    gates = gates + top_down + _np(after_boundary[1]) @ _np(cell.recurrent_kernels[0])
    i, g = _sigmoid(gates[:, u : 2 * u]), np.tanh(gates[:, 3 * u : 4 * u])
    np.testing.assert_allclose(_np(flushed[2]), i * g, atol=1e-6)
    assert not np.allclose(_np(flushed[2]), _np(fresh[2]))


def test_update_rules_numpy():
    rng = np.random.default_rng(1)
    c0, h0 = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    f, i, o, g = (rng.uniform(size=(3, 2)) for _ in range(4))
    z_prev = np.array([[1.0], [0.0], [0.0]])
    z_below = np.array([[0.0], [1.0], [0.0]])
    c, h = (_np(a) for a in hmlstm_update(c0, h0, z_prev, z_below, (f, i, o, g)))
    np.testing.assert_allclose(c[0], i[0] * g[0], rtol=1e-6)  # FLUSH
    np.testing.assert_allclose(c[1], f[1] * c0[1] + i[1] * g[1], rtol=1e-6)  # UPDATE
    np.testing.assert_allclose(c[2], c0[2], rtol=1e-6)  # COPY
    np.testing.assert_allclose(h[2], h0[2], rtol=1e-6)
    np.testing.assert_allclose(h[:2], o[:2] * np.tanh(c[:2]), rtol=1e-6)


@pytest.mark.parametrize("slope", [1.0, 3.0])
def test_straight_through_gradient_is_hard_sigmoid_slope(slope):
    s = np.array([-2.0, -0.2, 0.1, 0.25, 0.9, 3.0])
    import tensorflow as tf  # the gradient tape of the test backend

    t = tf.constant(s)
    with tf.GradientTape() as tape:
        tape.watch(t)
        out = straight_through_boundary(t, slope)
    grad = tape.gradient(out, t).numpy()
    z = _np(out)
    np.testing.assert_array_equal(z, (s > 0).astype(float))
    np.testing.assert_allclose(grad, np.where(np.abs(slope * s) < 1, slope / 2, 0.0))
    with tf.GradientTape() as tape:
        tape.watch(t)
        out = straight_through_boundary(t, slope, straight_through=False)
    assert tape.gradient(out, t) is None or np.all(tape.gradient(out, t).numpy() == 0)


def test_slope_variable_and_save_load(tmp_path):
    layer = HierarchicalMultiscaleLSTM(3, num_layers=2, slope=2.0)
    model = keras.Sequential([keras.Input((5, 4)), layer])
    layer.slope.assign(4.0)
    path = tmp_path / "hm.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert float(loaded.layers[0].slope) == 4.0
    assert loaded.layers[0].get_config()["slope"] == 2.0
    np.testing.assert_allclose(loaded(X[:, :5]), model(X[:, :5]), atol=1e-6)
    assert layer.cell.slope.trainable is False


def test_bad_arguments():
    with pytest.raises(ValueError, match="`units`.*Received"):
        HierarchicalMultiscaleLSTMCell(0)
    with pytest.raises(ValueError, match="`num_layers`.*Received"):
        HierarchicalMultiscaleLSTM(3, num_layers=0)
    with pytest.raises(ValueError, match="`slope`.*Received"):
        HierarchicalMultiscaleLSTM(3, slope=0.0)
