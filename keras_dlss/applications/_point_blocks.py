"""Building blocks shared by the 3D recognition networks (internal)."""

import keras
from keras import ops

from keras_dlss import _validation as v
from keras_dlss.layers.edge_conv import point_normalization

NORMALIZATIONS = ("batch", "layer", "none")
TASKS = ("classify", "segment")


def scaled(units, width):
    """`units` channels scaled by the width multiplier (at least 1)."""
    return max(1, int(round(units * width)))


def check_common(num_classes, width, dropout, normalization, task=None):
    num_classes = v.check_positive_int("num_classes", num_classes, minimum=2)
    v.check_range("width", width, 0.0, None, low_inclusive=False)
    v.check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False)
    v.check_one_of("normalization", normalization, NORMALIZATIONS)
    if task is not None:
        v.check_one_of("task", task, TASKS)
    return num_classes


def dense_block(x, units, normalization, name, activation="relu"):
    """Dense (per point when `x` is [B, N, C], i.e. a 1×1 convolution) → norm → activation."""
    x = keras.layers.Dense(units, use_bias=normalization == "none", name=f"{name}_dense")(x)
    x = point_normalization(normalization, name=f"{name}_norm")(x)
    return keras.layers.Activation(activation, name=f"{name}_{activation}")(x)


def classifier_head(
    x, num_classes, units, normalization, dropout, prefix, activation="relu", output="probabilities"
):
    for i, u in enumerate(units):
        x = dense_block(x, u, normalization, f"{prefix}_fc{i}", activation)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"{prefix}_dropout{i}")(x)
    return keras.layers.Dense(num_classes, activation="softmax", name=output)(x)


def tile_over_points(global_features, points):
    """`[B, F]` repeated for each of the `N` points of `points [B, N, C]` (N may be unknown)."""
    ones = ops.ones_like(points[..., :1])
    return keras.layers.Reshape((1, global_features.shape[-1]))(global_features) * ones


def points_input(num_points, name="points"):
    if num_points is not None:
        v.check_positive_int("num_points", num_points)
    return keras.Input((num_points, 3), name=name)
