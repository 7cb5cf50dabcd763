"""Activation maximization: the image that most excites one unit of a network.

Erhan, Bengio, Courville and Vincent ("Visualizing Higher-Layer Features of
a Deep Network", 2009) find the input that maximizes a unit by gradient
ascent; Olah, Mordvintsev and Schubert ("Feature Visualization", Distill
2017) collect the regularizers that make the result legible: transformation
robustness (random jitter each step), a frequency penalty (total variation
or blurring), L2 decay, and, most effective, optimizing a decorrelated
parameterization (a `1/f`-scaled Fourier spectrum and decorrelated colours,
see `_parameterization.py`) instead of raw pixels. Pixels are produced by a
sigmoid into `value_range`, so the image always stays a valid input.

For a convolutional layer the objective is the channel's mean over positions
(Olah et al.'s "channel" objective); for a dense layer, the unit itself.
"""

import contextlib

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, check_range
from keras_dlss.losses.total_variation import total_variation_loss
from keras_dlss.visualization import _parameterization as param
from keras_dlss.visualization._optimize import (
    adam_minimize,
    gaussian_blur,
    jitter,
    jitter_offsets,
)
from keras_dlss.visualization.feature_extraction import (
    call_features,
    check_value_range,
    feature_extractor,
    model_image_shape,
)

__all__ = ["maximize_activation"]


def _image_shape(model, image_shape):
    shape = model_image_shape(model)
    if image_shape is None:
        if None in shape:
            raise ValueError(
                "Argument `image_shape` is required when the model's input size is not fixed. "
                f"Received: image_shape=None for a model input of {shape}"
            )
        return shape
    if len(tuple(image_shape)) != 3 or not all(int(d) >= 2 for d in image_shape):
        raise ValueError(
            "Argument `image_shape` must be (height, width, channels) with height, width >= 2. "
            f"Received: image_shape={image_shape!r}"
        )
    if shape[2] is not None and int(image_shape[2]) != shape[2]:
        raise ValueError(
            f"Argument `image_shape` has {image_shape[2]} channels but the model takes "
            f"{shape[2]}. Received: image_shape={image_shape!r}"
        )
    return tuple(int(d) for d in image_shape)


@contextlib.contextmanager
def _linear_activation(layer):
    """Temporarily calls `layer` without its own activation (restored afterwards).

    The compiled loop is traced inside this context, so it reads the
    pre-activation; every later call of the model is unchanged.
    """
    activation = getattr(layer, "activation", None)
    if activation is None or activation is keras.activations.linear:
        yield
        return
    layer.activation = keras.activations.linear
    try:
        yield
    finally:
        layer.activation = activation


def _unit_objective(output, unit):
    if len(output.shape) == 4:
        return ops.mean(output[..., unit], axis=(1, 2))
    return ops.reshape(output, (ops.shape(output)[0], -1))[:, unit]


def maximize_activation(
    model,
    layer_name,
    unit,
    image_shape=None,
    steps=256,
    learning_rate=0.05,
    jitter_pixels=2,
    l2_decay=0.0,
    blur=0.0,
    tv_weight=0.0,
    parameterization="fourier",
    decay_power=1.0,
    value_range=(0.0, 1.0),
    init_scale=0.5,
    pre_activation=False,
    seed=0,
    jit_compile=True,
):
    """Synthesizes an image that maximizes one channel (or unit) of a layer.

    Args:
        model: a functional or `Sequential` Keras model taking channels-last images.
        layer_name: str. The layer whose output holds the unit.
        unit: int. Channel index (last axis) of a convolutional output, or index
            of a unit of a flat output.
        image_shape: `(height, width, channels)`. Defaults to the model's input shape
            (required when that is not fixed).
        steps: int >= 1. Optimizer steps. Defaults to `256`.
        learning_rate: float > 0. Adam's step size. Defaults to `0.05`.
        jitter_pixels: int >= 0. Random shift of up to this many pixels each step
            (transformation robustness). Defaults to `2`.
        l2_decay: float in [0, 1). Parameters shrink by this fraction each step.
            Defaults to `0.0`.
        blur: float in [0, 1]. Each step mixes this fraction of a 3x3 Gaussian blur
            into the image (a frequency penalty). Defaults to `0.0`.
        tv_weight: float >= 0. Weight of a total-variation penalty on the image
            (frequency penalty). Defaults to `0.0`.
        parameterization: `"fourier"` (decorrelated: `1/f`-scaled spectrum and
            decorrelated colours) or `"pixel"`. Defaults to `"fourier"`.
        decay_power: float >= 0. Exponent of the `1/f` spectrum scaling. Defaults to `1.0`.
        value_range: `(low, high)` of the model's pixel values. Defaults to `(0.0, 1.0)`.
        init_scale: float >= 0. Standard deviation of the random starting image
            before the sigmoid. Enough noise matters: a ReLU channel that is zero
            everywhere on a flat grey start has no gradient and never moves.
            Defaults to `0.5`.
        pre_activation: bool. Maximize the layer's output before its own
            `activation` (a `Conv2D(..., activation="relu")`), as Olah et al. do with
            GoogLeNet's pre-ReLU tensors: a ReLU channel that is zero everywhere at
            the start still gets a gradient. Layers without an activation are
            unaffected. Defaults to `False`.
        seed: int. Seeds the initial parameters and the jitter. Defaults to `0`.
        jit_compile: bool. Compile the loop with XLA (TensorFlow, JAX). Defaults to `True`.

    Returns:
        A float32 NumPy image `[height, width, channels]` in `value_range`.

    Raises:
        ValueError: unknown `layer_name` (the valid names are listed), `unit` out of
            range, bad `image_shape`, `steps` < 1, or another argument out of range.

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
    ])
    image = maximize_activation(model, "conv", unit=1, steps=8, jit_compile=False)
    assert image.shape == (8, 8, 3)
    ```

    References:
        Olah, Mordvintsev and Schubert, "Feature Visualization", Distill 2017,
        https://distill.pub/2017/feature-visualization/;
        Erhan et al., "Visualizing Higher-Layer Features of a Deep Network", 2009.
    """
    extractor = feature_extractor(model, layer_name, argument_name="layer_name")
    height, width, channels = _image_shape(model, image_shape)
    units = int(np.prod(extractor.outputs[0].shape[-1:]))
    if len(extractor.outputs[0].shape) != 4:
        units = int(np.prod([d for d in extractor.outputs[0].shape[1:]]))
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not 0 <= unit < units:
        raise ValueError(
            f"Argument `unit` must be an int in [0, {units}) for layer {layer_name!r}. "
            f"Received: unit={unit!r}"
        )
    steps = check_positive_int("steps", steps)
    check_range("learning_rate", learning_rate, 0.0, low_inclusive=False)
    jitter_pixels = check_positive_int("jitter_pixels", jitter_pixels, minimum=0)
    check_range("l2_decay", l2_decay, 0.0, 1.0, high_inclusive=False)
    check_range("blur", blur, 0.0, 1.0)
    check_range("tv_weight", tv_weight, 0.0)
    check_range("decay_power", decay_power, 0.0)
    check_range("init_scale", init_scale, 0.0)
    check_one_of("parameterization", parameterization, ("fourier", "pixel"))
    value_range = check_value_range(value_range)

    rng = np.random.default_rng(seed)
    offsets = jitter_offsets(steps, jitter_pixels, seed + 1)
    if parameterization == "fourier":
        scale = param.fourier_scale(height, width, decay_power)
        transfer = param.blur_transfer(height, width)
        params = tuple(
            rng.standard_normal((1, channels, height, width)).astype("float32") for _ in range(2)
        )
        # Scale the random spectrum so the starting image has `init_scale` std before the sigmoid.
        start = ops.convert_to_numpy(param.inverse_fourier(params[0], params[1], scale))
        params = tuple(p * (init_scale / max(float(start.std()), 1e-12)) for p in params)

        def to_image(p):
            return param.to_range(
                param.decorrelate_colors(param.inverse_fourier(p[0], p[1], scale)), value_range
            )

        def smooth(p):
            factor = ops.convert_to_tensor((1.0 - blur) + blur * transfer)
            return tuple(x * factor for x in p)

    else:
        params = init_scale * rng.standard_normal((1, height, width, channels)).astype("float32")

        def to_image(p):
            return param.to_range(p, value_range)

        def smooth(p):
            return (1.0 - blur) * p + blur * gaussian_blur(p)

    def loss_fn(p, step):
        image = to_image(p)
        output = call_features(extractor, jitter(image, offsets, step, jitter_pixels))[layer_name]
        loss = -ops.mean(_unit_objective(output, unit))
        if tv_weight:
            loss = loss + tv_weight * ops.mean(total_variation_loss(image))
        return loss

    def project(p, step):
        if l2_decay:
            p = (
                tuple(x * (1.0 - l2_decay) for x in p)
                if isinstance(p, tuple)
                else p * (1.0 - l2_decay)
            )
        return smooth(p) if blur else p

    layer = model.get_layer(layer_name)
    with _linear_activation(layer) if pre_activation else contextlib.nullcontext():
        params, _ = adam_minimize(loss_fn, params, steps, learning_rate, project, jit_compile)
    return ops.convert_to_numpy(to_image(params))[0].astype("float32")
