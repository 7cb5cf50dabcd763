"""The discriminative loss for instance segmentation by pixel embeddings.

De Brabandere, Neven & Van Gool, "Semantic Instance Segmentation with a
Discriminative Loss Function", 2017. A network maps each pixel to an embedding;
the loss pulls a pixel towards its instance's mean embedding when it is
farther than `delta_var` (variance term), pushes the means of two instances
apart when they are closer than `2 * delta_dist` (distance term), and keeps the
means near the origin (regularizer). At test time, pixels cluster around their
means, so any clustering with a bandwidth of about `delta_var` recovers the
instances (`keras_dlss.decoding.cluster_embeddings`).

Why a static `max_instances`: per-instance means are a one-hot
`[pixels, instances]` matmul, which keeps shapes static for XLA; instance ids
at or above it raise eagerly and are ignored under tracing.
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int, check_range, check_rank, shape_str

__all__ = ["DiscriminativeInstanceLoss", "discriminative_instance_loss"]


def discriminative_instance_loss(
    y_true,
    y_pred,
    max_instances,
    delta_var=0.5,
    delta_dist=1.5,
    alpha=1.0,
    beta=1.0,
    gamma=0.001,
):
    """Per-image discriminative loss (De Brabandere et al. 2017, Eq. 1-4).

    Args:
        y_true: int [batch, height, width] instance ids; 0 is background
            (ignored), 1..max_instances-1 are instances.
        y_pred: float [batch, height, width, dims] pixel embeddings.
        max_instances: int. Number of ids, background included.
        delta_var, delta_dist: float margins (pull / push hinges).
        alpha, beta, gamma: float weights of the variance, distance and
            regularization terms.

    Returns:
        float [batch]: the loss of each image (0 for an image without instances).
    """
    embeddings = ops.convert_to_tensor(y_pred)
    dims = embeddings.shape[-1]
    ids = ops.cast(
        ops.reshape(ops.convert_to_tensor(y_true), (ops.shape(embeddings)[0], -1)), "int32"
    )
    x = ops.reshape(embeddings, (ops.shape(embeddings)[0], -1, dims))
    # Column 0 (background) dropped: [B, N, K-1] membership of each instance.
    member = ops.one_hot(ids, max_instances, dtype=x.dtype)[..., 1:]
    counts = ops.sum(member, axis=1)  # [B, K-1]
    present = ops.cast(counts > 0, x.dtype)
    num = ops.sum(present, axis=-1)  # [B]
    means = ops.einsum("bnk,bnd->bkd", member, x) / ops.maximum(counts, 1.0)[..., None]
    # Variance term: hinge on each pixel's distance to its own instance's mean.
    dist = ops.sqrt(ops.sum(ops.square(x[:, :, None, :] - means[:, None]), -1) + 1e-12)
    pull = ops.square(ops.relu(dist - delta_var)) * member
    per_instance = ops.sum(pull, axis=1) / ops.maximum(counts, 1.0)
    l_var = ops.sum(per_instance, -1) / ops.maximum(num, 1.0)
    # Distance term: hinge on the distance between every pair of present means.
    pair = ops.sqrt(ops.sum(ops.square(means[:, :, None] - means[:, None]), -1) + 1e-12)
    k = max_instances - 1
    both = present[:, :, None] * present[:, None, :] * (1.0 - ops.eye(k, dtype=x.dtype))
    push = ops.square(ops.relu(2.0 * delta_dist - pair)) * both
    l_dist = ops.sum(push, axis=(1, 2)) / ops.maximum(num * (num - 1.0), 1.0)
    norms = ops.sqrt(ops.sum(ops.square(means), -1) + 1e-12) * present
    l_reg = ops.sum(norms, -1) / ops.maximum(num, 1.0)
    return alpha * l_var + beta * l_dist + gamma * l_reg


@keras.saving.register_keras_serializable(package="keras_dlss")
class DiscriminativeInstanceLoss(keras.losses.Loss):
    """Discriminative embedding loss for instance segmentation (De Brabandere et al. 2017).

    `y_true` holds integer instance ids per pixel (0 = background, ignored);
    `y_pred` is the network's pixel embeddings. Pixels of one instance are
    pulled within `delta_var` of their mean, instance means are pushed at least
    `2 * delta_dist` apart, and a small pull keeps means near the origin.

    Args:
        max_instances: int >= 2. Number of instance ids, background included.
        delta_var: float > 0. Pull margin. Defaults to `0.5`.
        delta_dist: float > 0. Push margin (half the minimum distance of two
            means). Defaults to `1.5`.
        alpha: float >= 0. Weight of the variance term. Defaults to `1.0`.
        beta: float >= 0. Weight of the distance term. Defaults to `1.0`.
        gamma: float >= 0. Weight of the regularizer. Defaults to `0.001`.
        reduction, name, dtype: as for any `keras.losses.Loss`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.losses import DiscriminativeInstanceLoss

    ids = np.zeros((1, 4, 4), "int32")
    ids[0, :2], ids[0, 2:] = 1, 2
    far = np.where(ids[..., None] == 1, -2.0, 2.0).astype("float32") * np.ones((1, 4, 4, 2))
    loss = DiscriminativeInstanceLoss(max_instances=3)
    assert float(loss(ids, far)) < 0.01          # tight, far-apart clusters: ~0 loss
    assert float(loss(ids, np.zeros((1, 4, 4, 2), "float32"))) > 1.0   # collapsed means
    ```

    References:
        De Brabandere, Neven & Van Gool 2017, https://arxiv.org/abs/1708.02551.
    """

    def __init__(
        self,
        max_instances,
        delta_var=0.5,
        delta_dist=1.5,
        alpha=1.0,
        beta=1.0,
        gamma=0.001,
        reduction="sum_over_batch_size",
        name="discriminative_instance_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.max_instances = check_positive_int("max_instances", max_instances, minimum=2)
        for arg, value in (("delta_var", delta_var), ("delta_dist", delta_dist)):
            check_range(arg, value, 0.0, None, low_inclusive=False)
        for arg, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
            check_range(arg, value, 0.0, None)
        self.delta_var, self.delta_dist = float(delta_var), float(delta_dist)
        self.alpha, self.beta, self.gamma = float(alpha), float(beta), float(gamma)

    def call(self, y_true, y_pred):
        check_rank("y_pred", y_pred, 4)
        if tuple(y_true.shape[1:3]) != tuple(y_pred.shape[1:3]) or len(y_true.shape) != 3:
            raise ValueError(
                "Argument `y_true` must be [batch, height, width] ids matching `y_pred`'s "
                f"{shape_str(y_pred.shape[:3])}. Received: y_true.shape={shape_str(y_true.shape)}"
            )
        return discriminative_instance_loss(
            y_true,
            y_pred,
            self.max_instances,
            self.delta_var,
            self.delta_dist,
            self.alpha,
            self.beta,
            self.gamma,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "max_instances": self.max_instances,
            "delta_var": self.delta_var,
            "delta_dist": self.delta_dist,
            "alpha": self.alpha,
            "beta": self.beta,
            "gamma": self.gamma,
        }
