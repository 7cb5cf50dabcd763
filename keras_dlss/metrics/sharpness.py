"""ε-sharpness of a trained model (flat vs sharp minima).

Keskar et al. (2017), Metric 2.1: with the loss `f` at weights `w` and the box

    C_ε = {z : |z_i| <= ε (|w_i| + 1)},

    sharpness = 100 * (max_{z in C_ε} f(w + z) - f(w)) / (1 + f(w)).

The inner maximisation is approximated, as in the paper, by a few steps of an
iterative ascent; here projected sign-gradient ascent (the box is an L-inf ball,
whose steepest-ascent direction is the gradient's sign), started at a random
point inside the box.

References:
    Keskar et al., 2017. "On Large-Batch Training for Deep Learning:
    Generalization Gap and Sharp Minima". https://arxiv.org/abs/1609.04836
"""

import keras
import numpy as np

from keras_dlss._validation import check_positive_int, check_range


def _loss_fn(model, loss):
    if loss is not None:
        return keras.losses.get(loss)
    compiled = getattr(model, "loss", None)
    if compiled is None:
        raise ValueError(
            "Argument `loss` is required when the model is not compiled with a loss. Received: loss=None"
        )
    return keras.losses.get(compiled) if isinstance(compiled, str) else compiled


def sharpness(model, x, y, epsilon=1e-3, *, loss=None, steps=20, step_size=0.25, seed=0):
    """ε-sharpness (Keskar et al. 2017) of `model` on `(x, y)`, in percent.

    The weights are restored before returning.

    Args:
        model: a built `keras.Model`.
        x: inputs (array or list of arrays), evaluated as one batch.
        y: targets.
        epsilon: float > 0. Relative box size. Defaults to `1e-3`.
        loss: loss identifier or callable `loss(y_true, y_pred)`; defaults to the
            model's compiled loss.
        steps: int >= 1. Ascent steps. Defaults to `20`.
        step_size: float > 0. Ascent step as a fraction of the box half-width.
            Defaults to `0.25`.
        seed: int. Seed for the random starting point.

    Returns:
        A Python float: the relative loss increase in percent (>= 0).

    Example:

    ```python
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(loss="mse")
    s = keras_dlss.metrics.sharpness(model, np.ones((4, 3)), np.zeros((4, 1)), epsilon=1e-3)
    ```

    References:
        Keskar et al., 2017. https://arxiv.org/abs/1609.04836
    """
    check_range("epsilon", epsilon, 0.0, low_inclusive=False)
    check_positive_int("steps", steps)
    check_range("step_size", step_size, 0.0, low_inclusive=False)
    if keras.config.backend() != "tensorflow":
        raise NotImplementedError(
            f"sharpness() needs the TensorFlow backend. Received: backend={keras.config.backend()!r}"
        )
    import tensorflow as tf

    loss_fn = _loss_fn(model, loss)
    variables = model.trainable_variables
    w0 = [np.array(v.numpy()) for v in variables]
    bounds = [epsilon * (np.abs(w) + 1.0) for w in w0]
    rng = np.random.default_rng(seed)

    def evaluate(z, with_grad):
        for v, w, dz in zip(variables, w0, z):
            v.assign(w + dz)
        with tf.GradientTape() as tape:
            value = keras.ops.mean(loss_fn(y, model(x, training=False)))
        grads = tape.gradient(value, variables) if with_grad else None
        return float(value), grads

    try:
        f0, _ = evaluate([np.zeros_like(w) for w in w0], False)
        z = [rng.uniform(-0.5, 0.5, w.shape) * b for w, b in zip(w0, bounds)]
        best = f0
        for _ in range(steps):
            value, grads = evaluate(z, True)
            best = max(best, value)
            z = [
                dz if g is None else np.clip(dz + step_size * b * np.sign(g.numpy()), -b, b)
                for dz, g, b in zip(z, grads, bounds)
            ]
        best = max(best, evaluate(z, False)[0])
    finally:
        for v, w in zip(variables, w0):
            v.assign(w)
    return 100.0 * (best - f0) / (1.0 + f0)
