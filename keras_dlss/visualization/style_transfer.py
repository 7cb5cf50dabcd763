"""Neural style transfer: the content of one image drawn in the style of another.

Gatys, Ecker and Bethge ("Image Style Transfer Using Convolutional Neural
Networks", CVPR 2016) optimize an image so that its deep features match the
content image's (`losses.FeatureReconstruction`) while the Gram matrices of
several layers match the style image's (`losses.GramMatrixStyle`); a small
total-variation term (`losses.TotalVariation`) removes pixel noise.

Any network's layers work. We divide each term by its target's energy (the
normalization of Mahendran and Vedaldi, 2015) so the weights mean the same
on every network: feature magnitudes differ by orders of magnitude between
layers and models, and unnormalized weights must be re-tuned per network.
Without pretrained weights, `random_feature_extractor` builds a random-weight
multi-scale CNN, which He, Wang and Hopcroft (2016) showed carries enough
texture statistics for style transfer. The image starts from the content
image (the paper starts from noise; starting from the content converges in
fewer steps) and is clipped to `value_range` after every step.
"""

import numpy as np
from keras import ops

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.losses.feature_reconstruction import feature_reconstruction_loss
from keras_dlss.losses.gram_matrix_style import gram_matrix
from keras_dlss.losses.total_variation import total_variation_loss
from keras_dlss.visualization._optimize import adam_minimize
from keras_dlss.visualization.feature_extraction import (
    call_features,
    check_image,
    check_value_range,
    model_image_shape,
)
from keras_dlss.visualization.feature_extraction import feature_extractor as _extractor

__all__ = ["style_transfer"]


def _names(argument, names):
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise ValueError(
            f"Argument `{argument}` must name at least one layer. Received: {argument}=[]"
        )
    return names


def style_transfer(
    content,
    style,
    feature_extractor,
    content_layers,
    style_layers,
    steps=200,
    learning_rate=0.02,
    content_weight=1.0,
    style_weight=10.0,
    tv_weight=1e-3,
    value_range=(0.0, 1.0),
    jit_compile=True,
):
    """Renders `content` in the style of `style` by matching deep features and Gram matrices.

    Args:
        content: `[height, width, channels]` content image in `value_range`.
        style: `[height', width', channels]` style image (any size).
        feature_extractor: a functional or `Sequential` Keras model taking the images,
            e.g. `keras.applications.VGG19(include_top=False)` with the weights you
            have, or `random_feature_extractor()`.
        content_layers: str or list of str. Layers whose features the result keeps.
        style_layers: str or list of str. Layers whose Gram matrices it matches.
        steps: int >= 1. Adam steps. Defaults to `200`.
        learning_rate: float > 0. Adam's step size in units of `value_range`'s width.
            Defaults to `0.02`.
        content_weight: float >= 0. Weight of the (normalized) content loss. Defaults to `1.0`.
        style_weight: float >= 0. Weight of the (normalized) style loss, summed over
            layers. Defaults to `10.0`.
        tv_weight: float >= 0. Weight of the total-variation term. Defaults to `1e-3`.
        value_range: `(low, high)` of the model's pixel values. Defaults to `(0.0, 1.0)`.
        jit_compile: bool. Compile the loop with XLA (TensorFlow, JAX). Defaults to `True`.

    Returns:
        A float32 NumPy image shaped like `content`, in `value_range`.

    Raises:
        ValueError: unknown layer name, wrong rank or channels of `content` or
            `style`, `steps` < 1, or a negative weight.

    Example:

    ```python
    from keras_dlss.visualization import random_feature_extractor
    extractor = random_feature_extractor(filters=(8, 16))
    rng = np.random.default_rng(0)
    content, style = rng.random((16, 16, 3)), rng.random((12, 12, 3))
    image = style_transfer(content, style, extractor, "block2_conv",
                           ["block1_conv", "block2_conv"], steps=5, jit_compile=False)
    assert image.shape == (16, 16, 3)
    ```

    Reference: Gatys, Ecker and Bethge, "Image Style Transfer Using
    Convolutional Neural Networks", CVPR 2016; He, Wang and Hopcroft, "A
    Powerful Generative Model Using Random Weights for the Deep Image
    Representation", NeurIPS 2016, https://arxiv.org/abs/1606.04801.
    """
    content_layers = _names("content_layers", content_layers)
    style_layers = _names("style_layers", style_layers)
    extractor = _extractor(feature_extractor, content_layers, argument_name="content_layers")
    extractor = _extractor(feature_extractor, style_layers, argument_name="style_layers")
    all_layers = list(dict.fromkeys(content_layers + style_layers))
    extractor = _extractor(feature_extractor, all_layers)
    channels = model_image_shape(feature_extractor)[2]
    content_images, single = check_image("content", content, channels)
    style_images, _ = check_image("style", style, channels)
    steps = check_positive_int("steps", steps)
    check_range("learning_rate", learning_rate, 0.0, low_inclusive=False)
    for name, value in (("content_weight", content_weight), ("style_weight", style_weight)):
        check_range(name, value, 0.0)
    check_range("tv_weight", tv_weight, 0.0)
    low, high = check_value_range(value_range)

    content_features = call_features(extractor, ops.convert_to_tensor(content_images))
    style_features = call_features(extractor, ops.convert_to_tensor(style_images))
    content_targets = {n: ops.convert_to_tensor(content_features[n]) for n in content_layers}
    style_grams = {n: gram_matrix(style_features[n]) for n in style_layers}
    style_energy = {
        n: float(np.mean(np.square(ops.convert_to_numpy(g)))) + 1e-12
        for n, g in style_grams.items()
    }

    def loss_fn(x, step):
        features = call_features(extractor, x)
        content_loss = sum(
            ops.mean(feature_reconstruction_loss(content_targets[n], features[n], normalize=True))
            for n in content_layers
        )
        style_loss = sum(
            ops.mean(ops.square(gram_matrix(features[n]) - style_grams[n])) / style_energy[n]
            for n in style_layers
        )
        tv = ops.mean(total_variation_loss((x - low) / (high - low)))
        return content_weight * content_loss + style_weight * style_loss + tv_weight * tv

    def project(x, step):
        return ops.clip(x, low, high)

    x, _ = adam_minimize(
        loss_fn, content_images, steps, learning_rate * (high - low), project, jit_compile
    )
    return x[0] if single else x
