"""Integrated gradients (Sundararajan, Taly and Yan, ICML 2017).

    IG_i(x) = (x_i - x'_i) ∫_0^1 ∂f(x' + α (x - x')) / ∂x_i dα

from a baseline `x'`. The integral is a quadrature: Riemann sums (left, right,
middle, trapezoid) or Gauss–Legendre, with the same nodes and weights captum
uses, so the two agree number for number. Completeness (the paper's Axiom,
Proposition 1) says the attributions sum to `f(x) - f(x')`; the gap is the
quadrature error and is returned with the attributions, so a user sees when
`steps` is too small. All interpolation points of a batch are one stacked
batch in one compiled program.

References:
    Sundararajan et al., 2017. "Axiomatic Attribution for Deep Networks".
    https://arxiv.org/abs/1703.01365
"""

import numpy as np
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int
from keras_dlss.interpret import _core

RULES = ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre")


def quadrature(rule, steps):
    """Nodes `alphas` in [0, 1] and weights summing to 1 for `steps` points of `rule`."""
    n = steps
    if rule == "riemann_left":
        return np.linspace(0.0, 1.0 - 1.0 / n, n), np.full(n, 1.0 / n)
    if rule == "riemann_right":
        return np.linspace(1.0 / n, 1.0, n), np.full(n, 1.0 / n)
    if rule == "riemann_middle":
        return np.linspace(0.5 / n, 1.0 - 0.5 / n, n), np.full(n, 1.0 / n)
    if rule == "riemann_trapezoid":
        if n < 2:
            raise ValueError(
                f"Argument `steps` must be >= 2 for the trapezoid rule. Received: steps={steps}"
            )
        weights = np.full(n, 1.0 / (n - 1))
        weights[[0, -1]] = 0.5 / (n - 1)
        return np.linspace(0.0, 1.0, n), weights
    nodes, weights = np.polynomial.legendre.leggauss(n)
    return 0.5 * (nodes + 1.0), 0.5 * weights


def integrated_gradients(
    model, x, target, *, baseline=None, steps=50, method="gausslegendre", jit_compile=True
):
    """Integrated gradients of the explained output, with the completeness delta.

    Args:
        model: a `keras.Model`.
        x: float array `[B, ...]`.
        target: class index, one index per example, or a callable on outputs.
        baseline: None (zeros), a scalar, one example shaped `x.shape[1:]`, or
            a batch shaped like `x`. Defaults to `None`.
        steps: int >= 1. Quadrature points. Defaults to `50`.
        method: one of `"riemann_left"`, `"riemann_right"`, `"riemann_middle"`,
            `"riemann_trapezoid"`, `"gausslegendre"` (captum's names).
            Defaults to `"gausslegendre"`.
        jit_compile: bool. Defaults to `True`.

    Returns:
        `(attributions, delta)`: attributions shaped like `x`, and `delta[b] =
        sum(attributions[b]) - (f(x_b) - f(baseline_b))`.

    Example:

    ```python
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="tanh")])
    attr, delta = keras_dlss.interpret.integrated_gradients(
        model, np.ones((2, 3), "float32"), target=0, steps=16)
    ```

    References:
        Sundararajan et al., 2017. https://arxiv.org/abs/1703.01365
    """
    steps = check_positive_int("steps", steps)
    check_one_of("method", method, RULES)
    x = _core.as_float("x", x)
    base = _core.check_baseline("baseline", baseline, x)
    tgt = _core.Target(model, x, target)
    alphas, weights = quadrature(method, steps)
    alphas = ops.convert_to_tensor(alphas.astype(np.float32), x.dtype)
    weights = ops.convert_to_tensor(weights.astype(np.float32), x.dtype)

    def program(x, base, onehot, alphas, weights):
        shape = (steps,) + tuple(x.shape)
        bcast = (steps,) + (1,) * len(x.shape)
        path = base[None] + ops.reshape(alphas, bcast) * (x - base)[None]
        path = ops.reshape(path, (steps * x.shape[0],) + tuple(x.shape[1:]))
        g = _core.input_gradient(tgt.scalar_fn(onehot, steps), path)
        avg = ops.sum(ops.reshape(g, shape) * ops.reshape(weights, bcast), axis=0)
        attributions = avg * (x - base)
        f = tgt.scalar_fn(onehot)
        axes = tuple(range(1, len(x.shape)))
        delta = ops.sum(attributions, axis=axes) - (f(x) - f(base))
        return attributions, delta

    key = ("integrated_gradients", steps, tgt.key)
    run = _core.compiled(model, key, program, jit_compile)
    return run(x, base, tgt.args(), alphas, weights)
