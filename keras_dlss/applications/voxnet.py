"""VoxNet: 3D convolution on occupancy grids.

Maturana and Scherer, "VoxNet: A 3D Convolutional Neural Network for Real-Time
Object Recognition", IROS 2015, Fig. 2: a 32³ occupancy grid → Conv3D(32, 5,
stride 2) → Conv3D(32, 3) → max pool 2³ → fully connected 128 → classes, with
leaky ReLUs (slope 0.1) and dropout. Pair it with
`keras_dlss.datasets.voxelize`.

The grid is dense: memory and compute grow with its cube, most of it spent on
empty cells. That is the curriculum's motivation for OctNet (sparse octrees,
Riegler et al. 2017) and for networks that consume the points themselves.
"""

import keras

from keras_dlss import _validation as v
from keras_dlss.applications._point_blocks import check_common, scaled


def VoxNet(num_classes, grid=32, width=1.0, dropout=0.4, name="voxnet"):
    """The VoxNet classifier on `[grid, grid, grid, 1]` occupancy grids.

    Args:
        num_classes: int >= 2.
        grid: int >= 12. Cells per side of the input grid. Defaults to `32`.
        width: float > 0. Multiplies the filter counts and the hidden layer.
        dropout: float in [0, 1). Dropout before the fully connected layers
            (the paper's 0.2 / 0.3 / 0.4 are scaled from this, 0.4).
        name: str. The model's name.

    Returns:
        A functional `keras.Model` from `voxels [B, grid, grid, grid, 1]` to
        class probabilities `[B, num_classes]`.

    Example:

    ```python
    from keras_dlss.applications import VoxNet
    from keras_dlss.datasets import point_clouds, voxelize

    x, y = point_clouds(4, num_points=128)
    model = VoxNet(10, grid=16, width=0.25)
    assert model(voxelize(x, grid=16)).shape == (4, 10)
    ```

    References:
        Maturana & Scherer 2015, https://doi.org/10.1109/IROS.2015.7353481
    """
    num_classes = check_common(num_classes, width, dropout, "none")
    grid = v.check_positive_int("grid", grid, minimum=12)
    inputs = keras.Input((grid, grid, grid, 1), name="voxels")
    x = keras.layers.Dropout(dropout / 2, name="dropout_input")(inputs)
    x = keras.layers.Conv3D(scaled(32, width), 5, strides=2, name="conv1")(x)
    x = keras.layers.LeakyReLU(0.1, name="leaky1")(x)
    x = keras.layers.Dropout(dropout * 0.75, name="dropout1")(x)
    x = keras.layers.Conv3D(scaled(32, width), 3, name="conv2")(x)
    x = keras.layers.LeakyReLU(0.1, name="leaky2")(x)
    x = keras.layers.MaxPooling3D(2, name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(scaled(128, width), activation="relu", name="fc")(x)
    x = keras.layers.Dropout(dropout, name="dropout3")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)
