"""PointNet: deep learning directly on point sets (DLSS 2018, deep computer vision).

Qi, Su, Mo and Guibas, "PointNet: Deep Learning on Point Sets for 3D
Classification and Segmentation", CVPR 2017 (arXiv:1612.00593), Fig. 2.

A point cloud is a set: the network must not depend on the order of its
points. PointNet applies the same MLP to every point (a 1×1 convolution, here a
`Dense` on the last axis) and aggregates with a symmetric function, max
pooling, so its output is invariant to permutations of the points (the test
checks it exactly). Two T-Nets (`keras_dlss.layers.TNet`) align the input
coordinates (3×3) and the per-point features (64×64); the latter is kept near
orthogonal by `OrthogonalityRegularizer` (Eq. 2, weight 0.001), added to the
training loss with `add_loss`.

`task="segment"` is the segmentation network of Fig. 2: each point's
64-channel local feature is concatenated with the global feature and an MLP
labels every point.
"""

import keras

from keras_dlss.applications._point_blocks import (
    check_common,
    classifier_head,
    dense_block,
    points_input,
    scaled,
    tile_over_points,
)
from keras_dlss.layers.tnet import TNet
from keras_dlss.regularizers.orthogonality import OrthogonalityRegularizer


def _tnet(width, normalization, regularizer, name):
    return TNet(
        [scaled(u, width) for u in (64, 128, 1024)],
        [scaled(u, width) for u in (512, 256)],
        normalization=normalization,
        transform_regularizer=regularizer,
        name=name,
    )


def PointNet(
    num_classes,
    num_points=None,
    input_transform=True,
    feature_transform=True,
    task="classify",
    width=1.0,
    dropout=0.3,
    normalization="batch",
    regularization=0.001,
    name="pointnet",
):
    """PointNet for classification or per-point (part) segmentation.

    Args:
        num_classes: int >= 2. Classes (or part labels for `"segment"`).
        num_points: Optional int. Points per cloud; `None` (default) accepts
            any number, so a model trained on 1,024 points can be evaluated on
            fewer (Qi et al.'s robustness experiment).
        input_transform: bool. The 3×3 input T-Net. Defaults to `True`.
        feature_transform: bool. The 64×64 feature T-Net with its
            orthogonality regularizer. Defaults to `True`.
        task: str. `"classify"` (`[B, num_classes]`) or `"segment"`
            (`[B, N, num_classes]`). Defaults to `"classify"`.
        width: float > 0. Multiplies every layer's width (the paper's is 1.0:
            64-64-64-128-1024 per point). Defaults to `1.0`.
        dropout: float in [0, 1). Dropout of the classifier's hidden layers
            (0.3 in the paper, as keep ratio 0.7).
        normalization: str. `"batch"` (the paper's), `"layer"` or `"none"`.
        regularization: float >= 0. Weight of the feature transform's
            orthogonality loss. Defaults to `0.001`.
        name: str. The model's name.

    Returns:
        A functional `keras.Model` from `points [B, N, 3]` to class
        probabilities (softmax).

    Example:

    ```python
    import numpy as np
    from keras_dlss.applications import PointNet
    from keras_dlss.datasets import point_clouds

    x, y = point_clouds(4, num_points=64)
    model = PointNet(10, width=0.125)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    # model.fit(x, y, epochs=20): the feature transform's regularizer joins the loss
    assert model(x).shape == (4, 10)
    assert model(x[:, :16]).shape == (4, 10)   # fewer points than trained on
    ```

    References:
        Qi et al. 2017, https://arxiv.org/abs/1612.00593
    """
    num_classes = check_common(num_classes, width, dropout, normalization, task)
    regularizer = OrthogonalityRegularizer(regularization)
    inputs = points_input(num_points)
    x = inputs
    if input_transform:
        x = _tnet(width, normalization, None, "input_transform")(x)
    for i in range(2):
        x = dense_block(x, scaled(64, width), normalization, f"mlp1_{i}")
    if feature_transform:
        x = _tnet(width, normalization, regularizer, "feature_transform")(x)
    local = x
    for i, units in enumerate((64, 128, 1024)):
        x = dense_block(x, scaled(units, width), normalization, f"mlp2_{i}")
    global_features = keras.layers.GlobalMaxPooling1D(name="max_pool")(x)
    if task == "classify":
        units = [scaled(512, width), scaled(256, width)]
        outputs = classifier_head(
            global_features, num_classes, units, normalization, dropout, "head"
        )
        return keras.Model(inputs, outputs, name=name)
    x = keras.layers.Concatenate(name="local_and_global")(
        [local, tile_over_points(global_features, inputs)]
    )
    for i, units in enumerate((512, 256, 128)):
        x = dense_block(x, scaled(units, width), normalization, f"seg_{i}")
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)
