import numpy as np
import pytest
from keras import ops

from keras_dlss.ops.fixed_point import implicit_fixed_point, solve_fixed_point

DOTTIE = 0.7390851332151607  # the fixed point of cos


@pytest.mark.parametrize("anderson_memory", [0, 3])
def test_solves_cos_fixed_point(anderson_memory):
    z0 = ops.zeros((2, 3), "float64")
    z, residual = solve_fixed_point(
        ops.cos, z0, max_iterations=200, tolerance=1e-12, anderson_memory=anderson_memory
    )
    np.testing.assert_allclose(ops.convert_to_numpy(z), DOTTIE, atol=1e-10)
    assert float(residual) <= 1e-12


def test_anderson_converges_in_fewer_iterations():
    # A slow linear contraction (rate 0.95): 15 plain steps leave 0.95**15 = 46% of the error.
    a = np.diag(np.linspace(0.5, 0.95, 6))
    fn = lambda z: ops.matmul(z, a) + 1.0  # noqa: E731
    exact = 1.0 / (1.0 - np.diag(a))
    z0 = ops.zeros((1, 6), "float64")
    plain, _ = solve_fixed_point(fn, z0, max_iterations=15, tolerance=0.0)
    fast, _ = solve_fixed_point(fn, z0, max_iterations=15, tolerance=0.0, anderson_memory=6)
    err_plain = np.max(np.abs(ops.convert_to_numpy(plain) - exact))
    err_fast = np.max(np.abs(ops.convert_to_numpy(fast) - exact))
    assert err_fast < 1e-3 and err_plain > 1.0


def test_implicit_gradient_matches_closed_form():
    # z = a z + x  =>  z* = x / (1 - a), dz*/dx = 1 / (1 - a), dz*/da = x / (1 - a)^2.
    import tensorflow as tf

    x = tf.constant([[0.3, -1.2]], tf.float64)
    a = tf.constant(0.6, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([x, a])
        z = implicit_fixed_point(
            lambda z, x, p: p[0] * z + x,
            x,
            [a],
            tf.zeros_like(x),
            max_iterations=200,
            tolerance=1e-13,
        )
        loss = tf.reduce_sum(z)
    gx, ga = tape.gradient(loss, [x, a])
    np.testing.assert_allclose(z.numpy(), x.numpy() / 0.4, rtol=1e-10)
    np.testing.assert_allclose(gx.numpy(), np.full((1, 2), 1 / 0.4), rtol=1e-9)
    np.testing.assert_allclose(ga.numpy(), np.sum(x.numpy()) / 0.16, rtol=1e-9)
