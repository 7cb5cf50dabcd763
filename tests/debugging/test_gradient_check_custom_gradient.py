"""`gradient_check` on hand-written gradients (`keras.ops.custom_gradient`), issue #11 item 1.

Checking a custom gradient is the main reason to run a gradient checker, so
every path is exercised with one: plain functions of rank 1-3 with and without
a batch axis, layers and models, full and fast mode, first and second order; a
gradient of the wrong shape (which TensorFlow's `custom_gradient` accepts); a
backward that runs only eagerly (pfor and graphs cannot trace it); and, in a
JAX interpreter, the same checks on the other backend.
"""

import importlib.util
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.debugging import GradientCheckError, gradient_check
from keras_dlss.debugging import _finite_differences as fd


def _upstream(args, upstream):
    return args[0] if args else upstream


def _sin(wrong=False):
    """sin with a hand-written gradient: cos(x), or the planted mistake 2x."""

    @ops.custom_gradient
    def sin(x):
        def grad(*args, upstream=None):
            derivative = 2.0 * x if wrong else ops.cos(x)
            return _upstream(args, upstream) * derivative

        return ops.sin(x), grad

    return sin


@ops.custom_gradient
def _add_unreduced_bias(x, b):
    """x + b whose bias gradient is not summed over the batch: shape (B, d), not (d,)."""

    def grad(*args, upstream=None):
        upstream = _upstream(args, upstream)
        return upstream, upstream

    return x + b, grad


def _eager_only_product(wrong=False):
    """x * y whose backward runs NumPy on the upstream gradient (no pfor, no graph)."""

    @ops.custom_gradient
    def product(x, y):
        def grad(*args, upstream=None):
            up = ops.convert_to_numpy(_upstream(args, upstream))
            dy = ops.convert_to_numpy(x) * (2.0 if wrong else 1.0)
            return ops.convert_to_tensor(up * ops.convert_to_numpy(y)), ops.convert_to_tensor(
                up * dy
            )

        return x * y, grad

    return product


@keras.saving.register_keras_serializable(package="keras_dlss_tests")
class _CustomSinDense(keras.layers.Layer):
    """Dense followed by the custom-gradient sin; `wrong` plants the mistake."""

    def __init__(self, units=3, wrong=False, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.wrong = wrong

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")

    def call(self, x):
        return _sin(self.wrong)(ops.matmul(x, self.kernel))

    def get_config(self):
        return {**super().get_config(), "units": self.units, "wrong": self.wrong}


# Rank 1 without a batch axis; ranks 2 and 3 with one (batch 2).
SHAPES = [(5,), (2, 3), (2, 2, 3)]


def _point(shape):
    return np.linspace(-1.3, 1.7, int(np.prod(shape))).reshape(shape)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fast_mode", [False, True])
@pytest.mark.parametrize("order", [1, 2])
def test_correct_custom_gradient_passes(shape, fast_mode, order):
    report = gradient_check(_sin(), _point(shape), fast_mode=fast_mode, order=order)
    assert report.passed and len(report.results) == order
    assert all(r.checked > 0 for r in report.results)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fast_mode", [False, True])
@pytest.mark.parametrize("order", [1, 2])
def test_wrong_custom_gradient_fails(shape, fast_mode, order):
    x = _point(shape)
    report = gradient_check(
        _sin(wrong=True), x, fast_mode=fast_mode, order=order, raise_exception=False
    )
    first = report.results[0]
    assert not report.passed and not first.passed and first.order == 1
    # Full mode, and fast mode's re-check of a failing tensor, find the worst
    # element: where |2x - cos(x)| is largest, the last one (x = 1.7).
    assert tuple(first.worst_index) == tuple(d - 1 for d in shape)
    with pytest.raises(GradientCheckError, match="failed for `inputs`"):
        gradient_check(_sin(wrong=True), x, fast_mode=fast_mode, order=order)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_custom_gradient_in_layer_and_model(fast_mode):
    x = _point((4, 3)).astype("float32")
    assert gradient_check(_CustomSinDense(), x, fast_mode=fast_mode, order=2).passed
    layer = _CustomSinDense(wrong=True)
    model = keras.Sequential([keras.Input((3,)), layer, keras.layers.Dense(2)])
    report = gradient_check(model, x, fast_mode=fast_mode, raise_exception=False)
    # The planted mistake is upstream of every tensor but the last Dense's.
    assert {r.name for r in report.failures} == {"inputs", layer.kernel.path}


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradient_of_the_wrong_shape_is_a_failure_not_a_crash(fast_mode):
    x, b = _point((4, 3)), np.ones(3)
    report = gradient_check(_add_unreduced_bias, (x, b), fast_mode=fast_mode, raise_exception=False)
    assert report["inputs[0]"].passed and not report["inputs[1]"].passed
    assert "the gradient has shape (4, 3) but the tensor has shape (3,)" in str(report)
    with pytest.raises(GradientCheckError, match=r"failed for `inputs\[1\]`"):
        gradient_check(_add_unreduced_bias, (x, b), fast_mode=fast_mode)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_issue_example_list_of_inputs_is_the_positional_arguments(fast_mode):
    # The issue's call: a plain callable checked on `[x]` receives `x` (the
    # torch.autograd.gradcheck convention). This raised "Tensor's shape (7, 1, 1, 7)
    # is not compatible..." from pfor.
    x = _point((1, 7))
    assert gradient_check(_sin(), [x], fast_mode=fast_mode).passed
    report = gradient_check(_sin(wrong=True), [x], fast_mode=fast_mode, raise_exception=False)
    assert not report.passed and report.failures[0].name == "inputs"


@pytest.mark.parametrize("fast_mode", [False, True])
def test_a_list_given_as_one_argument_reports_a_mis_shaped_custom_gradient(fast_mode):
    # Wrapped as `([x],)`, `f` receives the list, `ops.sin([x])` stacks it, and the
    # gradient `upstream * cos([x])` has shape (1, 1, 7) for the (1, 7) tensor.
    report = gradient_check(_sin(), ([_point((1, 7))],), fast_mode=fast_mode, raise_exception=False)
    assert not report.passed
    assert report["inputs[0][0]"].problem.startswith("the gradient has shape (1, 1, 7)")


def test_eager_only_backward_falls_back_to_a_loop_once(monkeypatch):
    calls = []

    def counting_vmap(f, elems):
        calls.append(1)
        return vmap(f, elems)

    vmap = fd.vmap
    monkeypatch.setattr(fd, "vmap", counting_vmap)
    args = (_point((2, 3)), _point((2, 3)) + 2.0)
    report = gradient_check(_eager_only_product(), args)
    assert report.passed and [r.checked for r in report.results] == [36, 36]
    assert len(calls) == 1  # vectorized rows failed for inputs[0], not retried for inputs[1]
    report = gradient_check(_eager_only_product(wrong=True), args, raise_exception=False)
    assert [r.name for r in report.failures] == ["inputs[1]"]


def test_eager_only_second_order_falls_back_and_reports_the_zero_derivative():
    # Order 2 differentiates the NumPy backward: the graph loops cannot trace it,
    # the eager loop can, and the (zero) derivative through NumPy is caught.
    report = gradient_check(
        _eager_only_product(), (_point((3,)), _point((3,)) + 2.0), order=2, raise_exception=False
    )
    assert [r.passed for r in report.results] == [True, True, False, False]


def test_an_error_of_the_function_itself_still_reaches_the_user():
    x0 = _point((4,))

    def f(x):
        if not np.array_equal(ops.convert_to_numpy(x), x0):
            raise RuntimeError("f is only defined at x0")
        return ops.sin(x)

    with pytest.raises(RuntimeError, match="f is only defined at x0"):
        gradient_check(f, x0)


JAX_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from keras import ops
    from keras_dlss.debugging import GradientCheckError, gradient_check

    def cube(wrong):
        @ops.custom_gradient
        def f(x):
            def grad(*args, upstream=None):
                upstream = args[0] if args else upstream
                return upstream * (2.0 if wrong else 3.0) * x * x
            return x * x * x, grad
        return f

    x = np.linspace(-1.3, 1.7, 6).reshape(2, 3)
    for fast_mode in (False, True):
        assert gradient_check(cube(False), x, fast_mode=fast_mode, order=2).passed
        try:
            gradient_check(cube(True), x, fast_mode=fast_mode)
            raise SystemExit("a wrong gradient passed")
        except GradientCheckError as e:
            assert tuple(int(i) for i in e.report["inputs"].worst_index) == (1, 2)
    print("ok")
    """
)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_custom_gradient_on_jax():
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_ENABLE_X64": "1", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]
    env["JAX_ENABLE_X64"] = "0"
    check = "import numpy as np; from keras_dlss.debugging import gradient_check as g; g(abs, np.ones(2))"
    out = subprocess.run(
        [sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=600
    )
    assert "Received: jax_enable_x64=False" in out.stderr
