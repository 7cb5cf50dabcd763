"""A random-weight multi-scale CNN: features for style transfer without pretrained weights.

He, Wang and Hopcroft ("A Powerful Generative Model Using Random Weights for
the Deep Image Representation", NeurIPS 2016) reconstruct images and transfer
style with an untrained VGG, and Ustyuzhaninov, Brendel, Gatys and Bethge
("What Does It Take to Generate Natural Textures?", ICLR 2017) synthesize
textures from a single random layer: Gram matrices of random convolutional
features already describe texture. Nothing can be downloaded here, so this is
the feature extractor of our style-transfer demo. Each block is a random
3x3 convolution, ReLU and 2x2 average pooling (Gatys et al. prefer average
to max pooling for image synthesis), so the blocks see the image at scales
1, 1/2, 1/4, ...; the weights are fixed (`trainable=False`) and seeded.
"""

import keras

from keras_dlss._validation import check_positive_int

__all__ = ["random_feature_extractor"]


def random_feature_extractor(
    input_shape=(None, None, 3), filters=(32, 64, 128), kernel_size=3, seed=0
):
    """A random-weight CNN whose blocks `block1_conv`, `block2_conv`, ... give multi-scale features.

    Args:
        input_shape: `(height, width, channels)`; `None` sizes accept any image.
            Defaults to `(None, None, 3)`.
        filters: sequence of int. Channels of each block's convolution; block `k`
            works at `1 / 2^(k-1)` of the input size. Defaults to `(32, 64, 128)`.
        kernel_size: int >= 1. Convolution size. Defaults to `3`.
        seed: int. Seeds the random weights. Defaults to `0`.

    Returns:
        A non-trainable `keras.Model` from images to the last block's pooled
        features; its layers `block{k}_conv` (after the ReLU) are the feature maps
        to name in `style_transfer`.

    Example:

    ```python
    extractor = random_feature_extractor(filters=(8, 16))
    assert [l.name for l in extractor.layers][1:3] == ["block1_conv", "block1_pool"]
    ```

    Reference: He, Wang and Hopcroft, NeurIPS 2016, https://arxiv.org/abs/1606.04801.
    """
    if len(tuple(input_shape)) != 3:
        raise ValueError(
            "Argument `input_shape` must be (height, width, channels). "
            f"Received: input_shape={input_shape!r}"
        )
    filters = [check_positive_int("filters", f) for f in filters]
    if not filters:
        raise ValueError(f"Argument `filters` must not be empty. Received: filters={filters!r}")
    kernel_size = check_positive_int("kernel_size", kernel_size)
    inputs = keras.Input(tuple(input_shape))
    x = inputs
    for k, width in enumerate(filters, start=1):
        x = keras.layers.Conv2D(
            width,
            kernel_size,
            padding="same",
            activation="relu",
            # He initialization keeps the activation scale constant through depth.
            kernel_initializer=keras.initializers.HeNormal(seed=seed + k),
            bias_initializer="zeros",
            name=f"block{k}_conv",
        )(x)
        x = keras.layers.AveragePooling2D(2, padding="same", name=f"block{k}_pool")(x)
    model = keras.Model(inputs, x, name="random_features")
    model.trainable = False
    return model
