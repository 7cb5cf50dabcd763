"""DGCNN: a graph network on point clouds (the curriculum's "3D graph NN").

Wang, Sun, Liu, Sarma, Bronstein and Solomon, "Dynamic Graph CNN for Learning
on Point Clouds", ACM TOG 2019 (arXiv:1801.07829), Fig. 3.

PointNet treats every point alone until the global max pool; DGCNN gives each
point its neighbourhood. Four `EdgeConv` layers (64, 64, 128, 256 channels)
each rebuild the k-nearest-neighbour graph in their own input feature space,
so later layers group points that are semantically, not just spatially, close.
Their outputs are concatenated, lifted to 1,024 channels per point, and pooled
with both max and mean for the classifier. `task="segment"` concatenates the
global feature back onto every point's multi-scale features.
"""

import keras

from keras_dlss import _validation as v
from keras_dlss.applications._point_blocks import (
    check_common,
    classifier_head,
    dense_block,
    points_input,
    scaled,
    tile_over_points,
)
from keras_dlss.layers.edge_conv import EdgeConv


def DGCNN(
    num_classes,
    num_points=None,
    k=20,
    task="classify",
    width=1.0,
    dropout=0.5,
    normalization="batch",
    name="dgcnn",
):
    """Dynamic Graph CNN for point cloud classification or segmentation.

    Args:
        num_classes: int >= 2. Classes (or part labels for `"segment"`).
        num_points: Optional int. Points per cloud (checked against `k` when
            given); `None` accepts any number greater than `k`.
        k: int >= 1. Neighbours of each point (itself included). Defaults to
            `20` (the paper's for 1,024 points).
        task: str. `"classify"` or `"segment"`. Defaults to `"classify"`.
        width: float > 0. Multiplies every layer's width. Defaults to `1.0`.
        dropout: float in [0, 1). Dropout of the classifier's hidden layers.
        normalization: str. `"batch"` (the paper's), `"layer"` or `"none"`.
        name: str. The model's name.

    Returns:
        A functional `keras.Model` from `points [B, N, 3]` to class
        probabilities `[B, num_classes]` (or `[B, N, num_classes]`).

    Example:

    ```python
    import numpy as np
    from keras_dlss.applications import DGCNN
    from keras_dlss.datasets import point_clouds

    x, y = point_clouds(2, num_points=32)
    model = DGCNN(10, num_points=32, k=4, width=0.125)
    assert model(x).shape == (2, 10)
    ```

    References:
        Wang et al. 2019, https://arxiv.org/abs/1801.07829
    """
    num_classes = check_common(num_classes, width, dropout, normalization, task)
    k = v.check_positive_int("k", k)
    if num_points is not None and k >= v.check_positive_int("num_points", num_points):
        raise ValueError(
            f"Argument `k` must be smaller than `num_points` ({num_points}). Received: k={k}"
        )
    inputs = points_input(num_points)
    x, scales = inputs, []
    for i, units in enumerate((64, 64, 128, 256)):
        x = EdgeConv(scaled(units, width), k=k, normalization=normalization, name=f"edge_conv_{i}")(
            x
        )
        scales.append(x)
    x = keras.layers.Concatenate(name="multi_scale")(scales)
    x = dense_block(x, scaled(1024, width), normalization, "lift", activation="leaky_relu")
    pooled = keras.layers.Concatenate(name="max_and_mean")(
        [keras.layers.GlobalMaxPooling1D()(x), keras.layers.GlobalAveragePooling1D()(x)]
    )
    if task == "classify":
        units = [scaled(512, width), scaled(256, width)]
        outputs = classifier_head(
            pooled, num_classes, units, normalization, dropout, "head", "leaky_relu"
        )
        return keras.Model(inputs, outputs, name=name)
    x = keras.layers.Concatenate(name="points_and_global")(
        scales + [tile_over_points(pooled, inputs)]
    )
    for i, units in enumerate((256, 256, 128)):
        x = dense_block(x, scaled(units, width), normalization, f"seg_{i}", activation="leaky_relu")
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)
