"""Group lasso: sparse input features through the first layer's kernel rows.

Yuan and Lin, "Model Selection and Estimation in Regression with Grouped
Variables", JRSS-B 2006: the penalty `λ Σ_g sqrt(p_g) ||W_g||_2` drives whole
groups of weights to zero together. Grouping the first layer's kernel by input
row (every weight leaving one input feature) turns that into feature selection
for a neural network (Scardapane et al., "Group sparse regularization for deep
neural networks", Neurocomputing 2017, https://arxiv.org/abs/1607.00485): an
input whose row norm reaches zero is no longer read by the network.

Element-wise sparsity is `keras.regularizers.L1`; it is not rebuilt here. The
group norm is the Euclidean norm, which is not differentiable at a zero row;
`sqrt(||W_g||² + ε)` keeps the gradient finite there (it is 0, the
subgradient of minimum norm), at a bias of at most `sqrt(ε)` per group.
"""

import keras
from keras import ops

from keras_dlss._validation import check_range

_EPSILON = 1e-12


@keras.saving.register_keras_serializable(package="keras_dlss")
class GroupLasso(keras.regularizers.Regularizer):
    """`factor * Σ_g sqrt(p_g) * ||W_g||_2`, one group per index along `axis`.

    With the default `axis=-2` the groups are the input rows of a `Dense`
    kernel `[inputs, units]` or the input channels of a `Conv2D` kernel
    `[kh, kw, in_channels, filters]`: the penalty selects input features.

    Args:
        factor: float >= 0. Multiplier `λ` of the penalty. Defaults to `0.01`.
        axis: int. The kernel axis that indexes the groups; the norm runs over
            every other axis. Defaults to `-2`.

    Call arguments:
        weights: a kernel tensor of rank >= 2.

    Returns:
        A scalar.

    Example:

    ```python
    import numpy as np
    import keras
    from keras_dlss.regularizers import GroupLasso

    w = np.array([[3.0, 4.0], [0.0, 0.0]], "float32")   # rows: 2 input features
    assert abs(float(GroupLasso(1.0)(w)) - 5.0 * np.sqrt(2.0)) < 1e-4
    layer = keras.layers.Dense(8, kernel_regularizer=GroupLasso(1e-3))
    ```

    References:
        Yuan & Lin, 2006, JRSS-B 68(1).
        Scardapane et al., 2017, https://arxiv.org/abs/1607.00485
    """

    def __init__(self, factor=0.01, axis=-2):
        self.factor = float(check_range("factor", factor, 0.0))
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"Argument `axis` must be an integer. Received: axis={axis!r}")
        self.axis = axis

    def group_norms(self, weights):
        """The Euclidean norm of each group, `[weights.shape[axis]]`."""
        weights = ops.convert_to_tensor(weights)
        rank = len(weights.shape)
        if rank < 2 or not -rank <= self.axis < rank:
            raise ValueError(
                f"Argument `weights` must have rank >= 2 and an axis {self.axis}. "
                f"Received: weights.shape={tuple(weights.shape)}"
            )
        axis = self.axis % rank
        others = tuple(i for i in range(rank) if i != axis)
        return ops.sqrt(ops.sum(ops.square(weights), axis=others) + _EPSILON)

    def __call__(self, weights):
        norms = self.group_norms(weights)
        weights = ops.convert_to_tensor(weights)
        group_size = 1
        for i, d in enumerate(weights.shape):
            if i != self.axis % len(weights.shape):
                group_size *= int(d)
        return self.factor * float(group_size) ** 0.5 * ops.sum(norms)

    def get_config(self):
        return {"factor": self.factor, "axis": self.axis}
