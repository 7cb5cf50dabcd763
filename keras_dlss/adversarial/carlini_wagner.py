"""The Carlini–Wagner L2 attack (Carlini and Wagner, IEEE S&P 2017).

Minimizes ‖δ‖²₂ + c · f(x + δ) with f(x') = max(Z_y − max_{i≠y} Z_i, −κ) (the
paper's f₆, untargeted form) over the change of variables
x + δ = lo + (tanh(w) + 1)/2 · (hi − lo), which keeps every iterate in the valid
range without clipping (Section V.A). Adam runs on `w` for `steps` iterations
inside one compiled program (an `ops.fori_loop` carrying Adam's moments and the
smallest successful perturbation so far); a binary search over `c`, per
example, wraps it in a short Python loop. `Z` are the logits; a model that
outputs probabilities is attacked through `log p`, which differs from its
logits by a per-example constant that the differences in f₆ cancel.

References:
    Carlini and Wagner, 2017. "Towards Evaluating the Robustness of Neural
    Networks". https://arxiv.org/abs/1608.04644
"""

import numpy as np
from keras import ops

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.adversarial import _common
from keras_dlss.autodiff import grad
from keras_dlss.interpret import _core


def _program(model, logits, steps, lr, kappa, lo, hi):
    def z_of(x):
        out = ops.cast(_core.first_output(model(x, training=False)), "float32")
        return out if logits else ops.log(ops.maximum(out, 1e-30))

    def margin(x, onehot):
        z = z_of(x)
        true = ops.sum(z * onehot, axis=-1)
        other = ops.max(z - 1e9 * onehot, axis=-1)
        return true - other

    def program(x, onehot, c, best_l2, best_adv):
        axes = tuple(range(1, len(x.shape)))
        to_x = lambda w: lo + (ops.tanh(w) + 1.0) * 0.5 * (hi - lo)  # noqa: E731
        w0 = ops.arctanh(ops.clip((x - lo) / (hi - lo) * 2.0 - 1.0, -1 + 1e-6, 1 - 1e-6))
        c_b = ops.reshape(c, (-1,) + (1,) * (len(x.shape) - 1))

        def objective(w):
            xa = to_x(w)
            l2 = ops.sum((xa - x) ** 2, axis=axes)
            return ops.sum(l2 + c * ops.maximum(margin(xa, onehot), -kappa))

        def body(t, carry):
            w, m, v, best_l2, best_adv = carry
            xa = to_x(w)
            l2 = ops.sum((xa - x) ** 2, axis=axes)
            success = margin(xa, onehot) <= -kappa if kappa > 0 else margin(xa, onehot) < 0
            better = ops.logical_and(success, l2 < best_l2)
            best_l2 = ops.where(better, l2, best_l2)
            best_adv = ops.where(ops.reshape(better, ops.shape(c_b)), xa, best_adv)
            g = grad(objective)(w)
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            step = ops.cast(t + 1, "float32")
            m_hat, v_hat = m / (1.0 - 0.9**step), v / (1.0 - 0.999**step)
            w = w - lr * m_hat / (ops.sqrt(v_hat) + 1e-8)
            return w, m, v, best_l2, best_adv

        zeros = ops.zeros_like(x)
        carry = ops.fori_loop(0, steps, body, (w0, zeros, zeros, best_l2, best_adv))
        return carry[3], carry[4]

    return program


def carlini_wagner_l2(
    model,
    x,
    y,
    *,
    confidence=0.0,
    initial_const=1.0,
    binary_search_steps=5,
    steps=100,
    learning_rate=0.01,
    clip_min=0.0,
    clip_max=1.0,
    from_logits=None,
    jit_compile=True,
):
    """Carlini–Wagner L2 adversarial examples (untargeted).

    Args:
        model: a classifier `keras.Model` (logits or probabilities).
        x: float array `[B, ...]` in `[clip_min, clip_max]`.
        y: int array `[B]`, true labels.
        confidence: float >= 0. The margin κ. Defaults to `0.0`.
        initial_const: float > 0. First `c` of the binary search. Defaults to `1.0`.
        binary_search_steps: int >= 1. Defaults to `5`.
        steps: int >= 1. Adam iterations per value of `c`. Defaults to `100`.
        learning_rate: float > 0. Adam's step. Defaults to `0.01`.
        clip_min: float. Lower end of the valid range. Defaults to `0.0`.
        clip_max: float. Upper end. Defaults to `1.0`.
        from_logits: bool or None. None infers it from one forward pass.
        jit_compile: bool. Defaults to `True`.

    Returns:
        `(x_adv, l2)`: adversarial examples shaped like `x` (the clean input
        where no attack succeeded) and their L2 distances `[B]` (`inf` where
        none succeeded).

    Example:

    ```python
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    x_adv, l2 = keras_dlss.adversarial.carlini_wagner_l2(
        model, np.full((2, 4), 0.5, "float32"), np.array([0, 2]),
        steps=5, binary_search_steps=2)
    ```

    References:
        Carlini and Wagner, 2017. https://arxiv.org/abs/1608.04644
    """
    check_range("confidence", confidence, 0.0)
    check_range("initial_const", initial_const, 0.0, low_inclusive=False)
    check_range("learning_rate", learning_rate, 0.0, low_inclusive=False)
    searches = check_positive_int("binary_search_steps", binary_search_steps)
    steps = check_positive_int("steps", steps)
    x, y, (lo, hi), logits = _common.attack_inputs(model, x, y, clip_min, clip_max, from_logits)
    y = np.asarray(ops.convert_to_numpy(y))
    classes = int(_core.first_output(model(x[:1], training=False)).shape[-1])
    onehot = ops.convert_to_tensor(np.eye(classes, dtype="float32")[y])
    program = _program(model, logits, steps, float(learning_rate), float(confidence), lo, hi)
    key = ("carlini_wagner_l2", steps, float(learning_rate), float(confidence), lo, hi, logits)
    run = _core.compiled(model, key, program, jit_compile)
    batch = int(x.shape[0])
    c = np.full(batch, float(initial_const), np.float32)
    c_lo, c_hi = np.zeros(batch, np.float32), np.full(batch, np.inf, np.float32)
    best_l2 = ops.convert_to_tensor(np.full(batch, np.inf, np.float32))
    best_adv = x
    for _ in range(searches):
        previous = np.asarray(ops.convert_to_numpy(best_l2))
        best_l2, best_adv = run(x, onehot, ops.convert_to_tensor(c), best_l2, best_adv)
        found = np.asarray(ops.convert_to_numpy(best_l2)) < previous
        c_hi = np.where(found, np.minimum(c_hi, c), c_hi)
        c_lo = np.where(found, c_lo, np.maximum(c_lo, c))
        c = np.where(np.isinf(c_hi), c * 10.0, (c_lo + c_hi) / 2.0).astype(np.float32)
    return best_adv, np.sqrt(np.asarray(ops.convert_to_numpy(best_l2)))
