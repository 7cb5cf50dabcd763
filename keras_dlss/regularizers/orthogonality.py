"""The orthogonality penalty of PointNet's feature transform.

Qi, Su, Mo and Guibas, "PointNet: Deep Learning on Point Sets for 3D
Classification and Segmentation", CVPR 2017 (arXiv:1612.00593), Eq. 2:
L_reg = ||I - A Aᵀ||²_F for the predicted transform A. An orthogonal transform
loses no information, and the 64×64 feature transform is too large to learn
stably without the push towards one.

A `keras.regularizers.Regularizer` (not a bare function) so that a layer can
hold it in its config, like Keras' `activity_regularizer`, and a `.keras` file
restores it with its weight.
"""

import keras
from keras import ops

from keras_dlss._validation import check_range


@keras.saving.register_keras_serializable(package="keras_dlss")
class OrthogonalityRegularizer(keras.regularizers.Regularizer):
    """`weight * mean_b ||I - A_b A_bᵀ||²_F` over a batch of square matrices.

    Args:
        weight: float >= 0. Multiplier of the penalty. Defaults to `0.001`
            (the paper's weight for the feature transform).

    Call arguments:
        matrices: `[..., d, d]` (a leading batch axis, or a single matrix).

    Returns:
        A scalar.

    Example:

    ```python
    import numpy as np
    from keras_dlss.regularizers import OrthogonalityRegularizer

    reg = OrthogonalityRegularizer(1.0)
    assert float(reg(np.eye(3, dtype="float32")[None])) == 0.0
    assert abs(float(reg(2 * np.eye(2, dtype="float32")[None])) - 18.0) < 1e-5
    ```

    References:
        Qi et al. 2017, https://arxiv.org/abs/1612.00593
    """

    def __init__(self, weight=0.001):
        self.weight = float(check_range("weight", weight, 0.0, None))

    def __call__(self, matrices):
        matrices = ops.convert_to_tensor(matrices)
        if len(matrices.shape) < 2 or matrices.shape[-1] != matrices.shape[-2]:
            raise ValueError(
                "Argument `matrices` must be square matrices [..., d, d]. "
                f"Received: matrices.shape={tuple(matrices.shape)}"
            )
        d = matrices.shape[-1]
        gram = ops.matmul(matrices, ops.swapaxes(matrices, -1, -2))
        residual = ops.eye(d, dtype=gram.dtype) - gram
        return self.weight * ops.mean(ops.sum(ops.square(residual), axis=(-2, -1)))

    def get_config(self):
        return {"weight": self.weight}
