"""Representation inversion: reconstruct an image from a layer's activations.

Mahendran and Vedaldi ("Understanding Deep Image Representations by
Inverting Them", CVPR 2015) ask what a representation `Φ` keeps of an image
`x₀` by searching for an image whose features match:

    x* = argmin_x ‖Φ(x) - Φ(x₀)‖² / ‖Φ(x₀)‖² + λ_TV · TV_β(x)

The normalized data term makes one `λ` fit every layer; the total-variation
prior (`keras_dlss.losses.TotalVariation`) picks, among the many images with
the same features, a piecewise-smooth one. Starting from noise, what the
reconstruction recovers is what the layer encodes (shallow layers: nearly the
photograph; deep ones: object parts at shifted positions). Pixels are
optimized directly and clipped to `value_range` after each step, the bounded
box constraint of the paper's Eq. 5.
"""

import numpy as np
from keras import ops

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.losses.feature_reconstruction import feature_reconstruction_loss
from keras_dlss.losses.total_variation import total_variation_loss
from keras_dlss.visualization._optimize import adam_minimize, jitter, jitter_offsets
from keras_dlss.visualization.feature_extraction import (
    call_features,
    check_image,
    check_value_range,
    feature_extractor,
    model_image_shape,
)

__all__ = ["invert_representation"]


def relative_feature_error(target, features):
    """`‖Φ(x) - Φ₀‖ / ‖Φ₀‖` over the whole batch, as a Python float."""
    target, features = np.asarray(target, np.float64), np.asarray(features, np.float64)
    return float(np.linalg.norm(features - target) / max(np.linalg.norm(target), 1e-12))


def invert_representation(
    model,
    layer_name,
    image,
    steps=200,
    learning_rate=0.05,
    tv_weight=1e-3,
    tv_beta=2.0,
    jitter_pixels=0,
    init="noise",
    value_range=(0.0, 1.0),
    seed=0,
    jit_compile=True,
):
    """Reconstructs an image from the activations it produces at one layer.

    Args:
        model: a functional or `Sequential` Keras model taking channels-last images.
        layer_name: str. The layer whose representation is inverted.
        image: `[height, width, channels]` image (or a batch) in `value_range`.
        steps: int >= 1. Adam steps. Defaults to `200`.
        learning_rate: float > 0. Adam's step size, in units of `value_range`'s
            width. Defaults to `0.05`.
        tv_weight: float >= 0. Weight `λ_TV` of the total-variation prior. Defaults to `1e-3`.
        tv_beta: float > 0. Exponent `β` of the prior. Defaults to `2.0`.
        jitter_pixels: int >= 0. Random shift each step (Mahendran and Vedaldi's
            later jitter regularizer). Defaults to `0`.
        init: `"noise"` (uniform noise, the paper's start) or `"gray"`. Defaults to `"noise"`.
        value_range: `(low, high)` of the model's pixel values. Defaults to `(0.0, 1.0)`.
        seed: int. Seeds the initial image and the jitter. Defaults to `0`.
        jit_compile: bool. Compile the loop with XLA (TensorFlow, JAX). Defaults to `True`.

    Returns:
        A tuple `(reconstruction, relative_error)`: a float32 NumPy image shaped
        like `image`, and `‖Φ(x*) - Φ(x₀)‖ / ‖Φ(x₀)‖` (a float).

    Raises:
        ValueError: unknown `layer_name`, wrong `image` rank or channels, `steps` < 1,
            or another argument out of range.

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(8, 3, padding="same", name="conv"),
    ])
    target = np.random.default_rng(0).random((8, 8, 3)).astype("float32")
    image, error = invert_representation(model, "conv", target, steps=20, jit_compile=False)
    assert image.shape == (8, 8, 3) and error < 1.0
    ```

    Reference: Mahendran and Vedaldi, "Understanding Deep Image Representations
    by Inverting Them", CVPR 2015, https://arxiv.org/abs/1412.0035.
    """
    extractor = feature_extractor(model, layer_name, argument_name="layer_name")
    images, single = check_image("image", image, model_image_shape(model)[2])
    steps = check_positive_int("steps", steps)
    check_range("learning_rate", learning_rate, 0.0, low_inclusive=False)
    check_range("tv_weight", tv_weight, 0.0)
    check_range("tv_beta", tv_beta, 0.0, low_inclusive=False)
    jitter_pixels = check_positive_int("jitter_pixels", jitter_pixels, minimum=0)
    if init not in ("noise", "gray"):
        raise ValueError(f"Argument `init` must be 'noise' or 'gray'. Received: init={init!r}")
    low, high = check_value_range(value_range)

    target = ops.convert_to_numpy(
        call_features(extractor, ops.convert_to_tensor(images))[layer_name]
    )
    rng = np.random.default_rng(seed)
    if init == "noise":
        start = low + (high - low) * rng.random(images.shape, dtype=np.float32)
    else:
        start = np.full(images.shape, (low + high) / 2.0, np.float32)
    offsets = jitter_offsets(steps, jitter_pixels, seed + 1)
    target_tensor = ops.convert_to_tensor(target)

    def loss_fn(x, step):
        features = call_features(extractor, jitter(x, offsets, step, jitter_pixels))[layer_name]
        data = feature_reconstruction_loss(target_tensor, features, normalize=True)
        # TV is measured in units of the value range so λ does not depend on it.
        prior = total_variation_loss((x - low) / (high - low), beta=tv_beta)
        return ops.mean(data + tv_weight * prior)

    def project(x, step):
        return ops.clip(x, low, high)

    x, _ = adam_minimize(loss_fn, start, steps, learning_rate * (high - low), project, jit_compile)
    final = ops.convert_to_numpy(call_features(extractor, ops.convert_to_tensor(x))[layer_name])
    error = relative_feature_error(target, final)
    return (x[0] if single else x), error
