"""Total variation: the natural-image prior of representation inversion and style transfer.

Mahendran and Vedaldi ("Understanding Deep Image Representations by
Inverting Them", CVPR 2015, Eq. 6) regularize an image by its total variation
`Σ ((x[i, j+1] - x[i, j])² + (x[i+1, j] - x[i, j])²)^(β/2)`: `β = 1` is the
classic (isotropic) TV, which keeps edges; `β = 2` penalizes every jump
quadratically and removes the "spikes" that `β = 1` lets through. We average
over positions and channels instead of summing, so the weight does not depend on
the image size. At `β < 2` the square root is not differentiable where the
image is flat; a small `epsilon` inside it keeps the gradient finite.
"""

import keras
from keras import ops

from keras_dlss._validation import check_range, check_rank

__all__ = ["TotalVariation", "total_variation_loss"]


def total_variation_loss(images, beta=2.0, epsilon=1e-8):
    """Per-image total variation `mean(((Δx)² + (Δy)² + ε)^(β/2))` over positions and channels.

    Args:
        images: `[batch, height, width, channels]` tensor (height, width >= 2).
        beta: float > 0. The exponent `β`. Defaults to `2.0`.
        epsilon: float >= 0. Added inside the power. Defaults to `1e-8`.

    Returns:
        A `[batch]` tensor. The last row and column, which have no right or lower
        neighbour, are left out.

    Example:

    ```python
    x = np.zeros((1, 4, 4, 1), "float32")
    x[:, :, 2:] = 1.0                      # one vertical edge
    print(total_variation_loss(x))         # 3 jumps of 1 over 9 positions: ~0.333
    ```

    Reference: Mahendran and Vedaldi, CVPR 2015, Eq. 6.
    """
    images = ops.convert_to_tensor(images)
    check_rank("images", images, 4)
    for axis in (1, 2):
        if images.shape[axis] is not None and images.shape[axis] < 2:
            raise ValueError(
                "Argument `images` must be at least 2x2 pixels. "
                f"Received: images.shape={tuple(images.shape)}"
            )
    beta = float(check_range("beta", beta, 0.0, low_inclusive=False))
    check_range("epsilon", epsilon, 0.0)
    dx = images[:, :-1, 1:, :] - images[:, :-1, :-1, :]
    dy = images[:, 1:, :-1, :] - images[:, :-1, :-1, :]
    squared = ops.square(dx) + ops.square(dy)
    if beta != 2.0:
        squared = ops.power(squared + epsilon, beta / 2.0)
    return ops.mean(squared, axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="keras_dlss")
class TotalVariation(keras.losses.Loss):
    """Total-variation regularizer as a Keras loss; `y_true` is ignored.

    Use it as a term of a larger objective (image generation, style transfer);
    `y_true` is accepted only for the `Loss` signature and may be `None`.

    Args:
        beta: float > 0. The exponent of Mahendran and Vedaldi's `V^β`. Defaults to `2.0`.
        epsilon: float >= 0. Added inside the power for `β != 2`. Defaults to `1e-8`.
        reduction: Keras loss reduction. Defaults to `"sum_over_batch_size"`.
        name: str. Defaults to `"total_variation"`.
        dtype: dtype of the computation. Defaults to `None`.

    Example:

    ```python
    tv = keras_dlss.losses.TotalVariation(beta=1.0)
    value = tv(None, np.random.rand(2, 8, 8, 3))
    ```

    Reference: Mahendran and Vedaldi, "Understanding Deep Image Representations
    by Inverting Them", CVPR 2015.
    """

    def __init__(
        self,
        beta=2.0,
        epsilon=1e-8,
        reduction="sum_over_batch_size",
        name="total_variation",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.beta = float(check_range("beta", beta, 0.0, low_inclusive=False))
        self.epsilon = float(check_range("epsilon", epsilon, 0.0))

    def __call__(self, y_true, y_pred, sample_weight=None):
        # Keras converts `y_true` to a tensor; the regularizer never reads it.
        return super().__call__(y_pred if y_true is None else y_true, y_pred, sample_weight)

    def call(self, y_true, y_pred):
        return total_variation_loss(y_pred, beta=self.beta, epsilon=self.epsilon)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "epsilon": self.epsilon}
