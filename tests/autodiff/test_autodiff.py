import numpy as np
import pytest
from keras import ops

from keras_dlss import autodiff


def _t(x):
    return ops.convert_to_tensor(np.asarray(x, dtype="float64"))


def _np(x):
    return ops.convert_to_numpy(x)


def _f(x):
    """A scalar function with a dense, non-diagonal Hessian."""
    return ops.sum(ops.sin(x) * x**2) + ops.prod(x) + ops.sum(x) ** 2


def _hessian_closed_form(x):
    d = 2 * np.sin(x) + 4 * x * np.cos(x) - x**2 * np.sin(x)
    prod = np.prod(x)
    h = np.outer(prod / x, 1 / x)  # d²(prod)/dxi dxj = prod / (xi xj) off the diagonal
    np.fill_diagonal(h, 0.0)
    return h + np.diag(d) + 2.0


def test_grad_closed_form():
    x = np.array([0.5, -1.0, 2.0])
    expected = 2 * x * np.sin(x) + x**2 * np.cos(x) + np.prod(x) / x + 2 * np.sum(x)
    np.testing.assert_allclose(_np(autodiff.grad(_f)(_t(x))), expected, rtol=1e-12)


def test_grad_argnums_tuple_and_vjp_of_nest():
    f = lambda a, b: ops.sum(a * b["w"])  # noqa: E731
    a, b = _t([1.0, 2.0]), {"w": _t([3.0, 4.0])}
    ga, gb = autodiff.grad(f, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(_np(ga), [3.0, 4.0])
    np.testing.assert_allclose(_np(gb["w"]), [1.0, 2.0])


def test_hvp_equals_explicit_hessian_times_v():
    x, v = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.3, -2.0])
    hv = autodiff.hvp(_f, _t(x), _t(v))
    np.testing.assert_allclose(_np(hv), _hessian_closed_form(x) @ v, rtol=1e-10)
    np.testing.assert_allclose(
        _np(autodiff.hessian(_f, _t(x))), _hessian_closed_form(x), rtol=1e-10
    )


def test_hvp_on_nested_input():
    f = lambda p: ops.sum(p["a"] ** 2 * p["b"])  # noqa: E731
    x = {"a": _t([1.0, 2.0]), "b": _t([3.0, 4.0])}
    v = {"a": _t([1.0, 0.0]), "b": _t([0.0, 1.0])}
    hv = autodiff.hvp(f, x, v)
    # H = [[2b, 2a], [2a, 0]] blockwise (diagonal blocks per element).
    np.testing.assert_allclose(_np(hv["a"]), [2 * 3 * 1, 2 * 2 * 1])
    np.testing.assert_allclose(_np(hv["b"]), [2 * 1 * 1, 0.0])


def test_jvp_and_vjp_agree_with_jacobian():
    w = np.random.default_rng(0).standard_normal((3, 4))
    f = lambda x: ops.tanh(ops.matmul(x, _t(w))) * ops.sum(x)  # noqa: E731
    x = np.random.default_rng(1).standard_normal((2, 3))
    u = np.random.default_rng(2).standard_normal((2, 3))
    c = np.random.default_rng(3).standard_normal((2, 4))
    jac = _np(autodiff.jacobian(f)(_t(x))).reshape(8, 6)
    _, tangent = autodiff.jvp(f, (_t(x),), (_t(u),))
    np.testing.assert_allclose(_np(tangent).ravel(), jac @ u.ravel(), rtol=1e-10)
    _, vjp_fn = autodiff.vjp(f, _t(x))
    (cot,) = vjp_fn(_t(c))
    np.testing.assert_allclose(_np(cot).ravel(), c.ravel() @ jac, rtol=1e-10)


def test_jacobian_argnums_shapes_and_unconnected_zeros():
    f = lambda a, b: a * 2.0  # noqa: E731
    ja, jb = autodiff.jacobian(f, argnums=(0, 1))(_t([1.0, 2.0]), _t([[1.0]]))
    assert tuple(ja.shape) == (2, 2) and tuple(jb.shape) == (2, 1, 1)
    np.testing.assert_allclose(_np(ja), 2 * np.eye(2))
    np.testing.assert_allclose(_np(jb), 0.0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="returning a scalar"):
        autodiff.grad(lambda x: x * 2)(_t([1.0, 2.0]))
    with pytest.raises(ValueError, match="floating-point"):
        autodiff.vjp(lambda x: x, ops.convert_to_tensor([1, 2]))
    with pytest.raises(ValueError, match="Received: argnums=3"):
        autodiff.grad(lambda x: ops.sum(x), argnums=3)(_t([1.0]))


def test_grad_and_hvp_trace_inside_tf_function():
    import tensorflow as tf

    def f(x):
        return ops.sum(x**3)

    x = ops.convert_to_tensor([1.0, 2.0])
    v = ops.convert_to_tensor([1.0, 0.0])
    g = tf.function(autodiff.grad(f))(x)
    h = tf.function(lambda x, v: autodiff.hvp(f, x, v))(x, v)
    np.testing.assert_allclose(ops.convert_to_numpy(g), [3.0, 12.0], rtol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(h), [6.0, 0.0], rtol=1e-6)
