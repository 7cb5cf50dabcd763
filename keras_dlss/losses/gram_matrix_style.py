"""The style loss of neural style transfer: distance between Gram matrices of feature maps.

Gatys, Ecker and Bethge ("Image Style Transfer Using Convolutional Neural
Networks", CVPR 2016, Eq. 3-5) describe the style of an image by the
correlations between the feature maps of a convolutional layer, the Gram
matrix `G = Fᵀ F` over spatial positions, and match the Gram matrices of a
generated image to those of the style image. The Gram matrix discards where
things are and keeps which features co-occur, so it also compares images of
different sizes.

We divide `G` by the number of positions `H·W` (the paper divides the loss by
`4 N² M²`, which is the same up to a constant per layer) so that the loss does
not grow with the image size, and average over the `C × C` entries.
"""

import keras
from keras import ops

from keras_dlss._validation import check_dims_match, check_rank

__all__ = ["GramMatrixStyle", "gram_matrix", "gram_matrix_style_loss"]


def gram_matrix(features):
    """Gram matrix of channels-last feature maps, normalized by the number of positions.

    Args:
        features: A `[batch, height, width, channels]` tensor (or `[batch,
            positions, channels]`).

    Returns:
        A `[batch, channels, channels]` tensor `Fᵀ F / positions`.

    Example:

    ```python
    g = gram_matrix(np.ones((1, 4, 4, 3), "float32"))
    assert g.shape == (1, 3, 3)
    ```

    Reference: Gatys, Ecker and Bethge, CVPR 2016, Eq. 3.
    """
    features = ops.convert_to_tensor(features)
    check_rank("features", features, (3, 4))
    shape = ops.shape(features)
    flat = ops.reshape(features, (shape[0], -1, shape[-1]))
    positions = ops.cast(ops.shape(flat)[1], flat.dtype)
    return ops.matmul(ops.transpose(flat, (0, 2, 1)), flat) / positions


def gram_matrix_style_loss(style_features, features):
    """Per-example style loss: mean squared difference of the two Gram matrices.

    Args:
        style_features: `[batch or 1, height', width', channels]` features of the
            style image (its spatial size may differ from `features`').
        features: `[batch, height, width, channels]` features of the generated image.

    Returns:
        A `[batch]` tensor, `mean((gram(features) - gram(style_features))²)`.

    Example:

    ```python
    loss = gram_matrix_style_loss(np.ones((1, 5, 5, 2)), np.zeros((2, 3, 3, 2)))
    assert loss.shape == (2,)
    ```

    Reference: Gatys, Ecker and Bethge, CVPR 2016, Eq. 4.
    """
    style_features = ops.convert_to_tensor(style_features)
    features = ops.convert_to_tensor(features)
    check_rank("features", features, (3, 4))
    check_rank("style_features", style_features, (3, 4))
    check_dims_match(
        "style_features", style_features, -1, features.shape[-1], "the channels of `features`"
    )
    style_features = ops.cast(style_features, features.dtype)
    difference = gram_matrix(features) - gram_matrix(style_features)
    return ops.mean(ops.square(difference), axis=(1, 2))


@keras.saving.register_keras_serializable(package="keras_dlss")
class GramMatrixStyle(keras.losses.Loss):
    """Style loss of Gatys et al. (2016): squared distance between Gram matrices.

    `y_true` holds the feature maps of the style image, `y_pred` those of the
    generated image, both channels last; the spatial sizes may differ. See
    `gram_matrix_style_loss` for the per-example value.

    Args:
        reduction: Keras loss reduction. Defaults to `"sum_over_batch_size"`.
        name: str. Defaults to `"gram_matrix_style"`.
        dtype: dtype of the computation. Defaults to `None` (the float policy).

    Example:

    ```python
    loss = keras_dlss.losses.GramMatrixStyle()
    value = loss(np.random.rand(1, 8, 8, 4), np.random.rand(2, 6, 6, 4))
    ```

    Reference: Gatys, Ecker and Bethge, "Image Style Transfer Using
    Convolutional Neural Networks", CVPR 2016.
    """

    def __init__(self, reduction="sum_over_batch_size", name="gram_matrix_style", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return gram_matrix_style_loss(y_true, y_pred)

    def get_config(self):
        return super().get_config()
