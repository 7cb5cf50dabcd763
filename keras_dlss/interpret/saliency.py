"""Gradient attributions: vanilla gradient, gradient × input, and SmoothGrad.

Saliency (Simonyan, Vedaldi and Zisserman, "Deep Inside Convolutional Networks",
2014, https://arxiv.org/abs/1312.6034) scores each input feature by the
gradient of the explained output; gradient × input (Shrikumar et al. 2016,
https://arxiv.org/abs/1605.01713) multiplies it by the feature's value.
SmoothGrad (Smilkov et al. 2017, https://arxiv.org/abs/1706.03825) averages the
gradient over Gaussian-noised copies of the input, with the noise's standard
deviation a fraction of each example's value range (Section 3 of the paper).
The noisy copies are one stacked batch inside one compiled program, not a
Python loop over samples.
"""

import keras
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, check_range
from keras_dlss.interpret import _core

_METHODS = ("gradient", "gradient_x_input")


def saliency(model, x, target, *, method="gradient", absolute=False, jit_compile=True):
    """Gradient of the explained output with respect to each input feature.

    Args:
        model: a `keras.Model` (any backend).
        x: float array `[B, ...]`, the inputs to explain.
        target: int class index, int array `[B]` (one per example), or a
            callable mapping the model's outputs to `[B]` scalars.
        method: `"gradient"` or `"gradient_x_input"`. Defaults to `"gradient"`.
        absolute: bool. Return the absolute value (as captum's `Saliency`
            does by default). Defaults to `False`.
        jit_compile: bool. One XLA program (TensorFlow, JAX). Defaults to `True`.

    Returns:
        Attributions shaped like `x`.

    Example:

    ```python
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    attributions = keras_dlss.interpret.saliency(model, np.ones((4, 3), "float32"), target=1)
    ```

    References:
        Simonyan et al., 2014. https://arxiv.org/abs/1312.6034
    """
    check_one_of("method", method, _METHODS)
    x = _core.as_float("x", x)
    tgt = _core.Target(model, x, target)

    def program(x, onehot):
        g = _core.input_gradient(tgt.scalar_fn(onehot), x)
        return g * x if method == "gradient_x_input" else g

    run = _core.compiled(model, ("saliency", method, tgt.key), program, jit_compile)
    out = run(x, tgt.args())
    return ops.abs(out) if absolute else out


def smoothgrad(
    model,
    x,
    target,
    *,
    num_samples=25,
    noise_level=0.15,
    squared=False,
    multiply_by_input=False,
    seed=0,
    jit_compile=True,
):
    """SmoothGrad: the gradient averaged over Gaussian-noised copies of each input.

    Args:
        model: a `keras.Model`.
        x: float array `[B, ...]`.
        target: class index, one index per example, or a callable on outputs.
        num_samples: int >= 1. Noisy copies per example. Defaults to `25`.
        noise_level: float >= 0. Noise standard deviation as a fraction of each
            example's `max - min` (the paper's σ / range). Defaults to `0.15`.
        squared: bool. Average squared gradients (SmoothGrad-Squared).
            Defaults to `False`.
        multiply_by_input: bool. Multiply the average by `x`. Defaults to `False`.
        seed: int. Seed of the noise. Defaults to `0`.
        jit_compile: bool. Defaults to `True`.

    Returns:
        Attributions shaped like `x`.

    Example:

    ```python
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="tanh")])
    sg = keras_dlss.interpret.smoothgrad(model, np.ones((2, 3), "float32"), 0, num_samples=4)
    ```

    References:
        Smilkov et al., 2017. https://arxiv.org/abs/1706.03825
    """
    num_samples = check_positive_int("num_samples", num_samples)
    check_range("noise_level", noise_level, 0.0)
    x = _core.as_float("x", x)
    tgt = _core.Target(model, x, target)
    axes = tuple(range(1, len(x.shape)))
    spread = ops.max(x, axis=axes, keepdims=True) - ops.min(x, axis=axes, keepdims=True)
    noise = keras.random.normal((num_samples,) + tuple(x.shape), seed=seed, dtype=x.dtype)
    noise = noise * (float(noise_level) * spread)[None]

    def program(x, onehot, noise):
        batch = (num_samples * x.shape[0],) + tuple(x.shape[1:])
        noisy = ops.reshape(x[None] + noise, batch)
        g = _core.input_gradient(tgt.scalar_fn(onehot, num_samples), noisy)
        g = ops.reshape(g, noise.shape)
        g = ops.mean(g * g if squared else g, axis=0)
        return g * x if multiply_by_input else g

    key = ("smoothgrad", num_samples, squared, multiply_by_input, tgt.key)
    return _core.compiled(model, key, program, jit_compile)(x, tgt.args(), noise)
