"""Feature reconstruction: how far the features of an image are from target features.

The content loss of neural style transfer (Gatys, Ecker and Bethge, CVPR
2016, Eq. 1) and the data term of representation inversion (Mahendran and
Vedaldi, "Understanding Deep Image Representations by Inverting Them", CVPR
2015, Eq. 1). Mahendran and Vedaldi divide by `‖Φ₀‖²` so that one
regularization weight suits every layer, whose activations differ in scale
by orders of magnitude: `normalize=True` does that.
"""

import keras
from keras import ops

from keras_dlss._validation import check_rank

__all__ = ["FeatureReconstruction", "feature_reconstruction_loss"]


def _check_same_shape(y_true, y_pred):
    check_rank("y_true", y_true, len(y_pred.shape))
    for a, b in zip(y_true.shape[1:], y_pred.shape[1:]):
        if a is not None and b is not None and a != b:
            raise ValueError(
                "Argument `y_true` must have the feature shape of `y_pred` "
                f"{tuple(y_pred.shape[1:])}. Received: y_true.shape={tuple(y_true.shape)}"
            )


def feature_reconstruction_loss(y_true, y_pred, normalize=False):
    """Per-example mean squared feature difference, optionally relative to `‖y_true‖²`.

    Args:
        y_true: `[batch or 1, ...]` target features.
        y_pred: `[batch, ...]` features of the image being optimized, same feature shape.
        normalize: bool. Divide by the mean of `y_true²` (Mahendran and Vedaldi's
            normalization), which makes the value `‖Φ - Φ₀‖² / ‖Φ₀‖²`. Defaults to `False`.

    Returns:
        A `[batch]` tensor.

    Example:

    ```python
    loss = feature_reconstruction_loss(np.ones((2, 3, 3, 4)), np.zeros((2, 3, 3, 4)))
    assert np.allclose(loss, 1.0)
    ```

    Reference: Gatys et al., CVPR 2016, Eq. 1; Mahendran and Vedaldi, CVPR 2015, Eq. 1.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    if len(y_pred.shape) < 2:
        raise ValueError(
            "Argument `y_pred` must have a batch axis and at least one feature axis. "
            f"Received: y_pred.shape={tuple(y_pred.shape)}"
        )
    _check_same_shape(y_true, y_pred)
    axes = tuple(range(1, len(y_pred.shape)))
    loss = ops.mean(ops.square(y_pred - y_true), axis=axes)
    if normalize:
        # A tiny floor keeps an all-zero target (a dead layer) from dividing by zero.
        loss = loss / (ops.mean(ops.square(y_true), axis=axes) + 1e-12)
    return loss


@keras.saving.register_keras_serializable(package="keras_dlss")
class FeatureReconstruction(keras.losses.Loss):
    """Content / inversion loss: mean squared difference between feature maps.

    Args:
        normalize: bool. Divide by `mean(y_true²)` so the value is the relative
            squared error `‖Φ - Φ₀‖² / ‖Φ₀‖²` (Mahendran and Vedaldi). Defaults to `False`.
        reduction: Keras loss reduction. Defaults to `"sum_over_batch_size"`.
        name: str. Defaults to `"feature_reconstruction"`.
        dtype: dtype of the computation. Defaults to `None`.

    Example:

    ```python
    loss = keras_dlss.losses.FeatureReconstruction(normalize=True)
    value = loss(np.ones((2, 4, 4, 3)), np.full((2, 4, 4, 3), 0.5))  # 0.25
    ```

    Reference: Gatys, Ecker and Bethge, CVPR 2016; Mahendran and Vedaldi, CVPR 2015.
    """

    def __init__(
        self,
        normalize=False,
        reduction="sum_over_batch_size",
        name="feature_reconstruction",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.normalize = bool(normalize)

    def call(self, y_true, y_pred):
        return feature_reconstruction_loss(y_true, y_pred, normalize=self.normalize)

    def get_config(self):
        return {**super().get_config(), "normalize": self.normalize}
