"""T-Net: PointNet's joint alignment network.

Qi, Su, Mo and Guibas, "PointNet: Deep Learning on Point Sets for 3D
Classification and Segmentation", CVPR 2017 (arXiv:1612.00593), Sec. 4.2 and
Appendix C: a mini-PointNet (shared per-point MLP, max pooling, fully
connected layers) predicts a d×d matrix A from the whole set, and every point
(or per-point feature) is multiplied by it. The last layer starts at zero
weights and identity bias, so training begins from the identity transform.

The layer returns the aligned points `x A`, not A: layers return tensors that
flow on. The transform is regularized where it is made, through
`transform_regularizer` and `add_loss` (the feature transform's
`OrthogonalityRegularizer`, Eq. 2), as Keras applies `activity_regularizer`.
Because A depends on the set only through a max over points, the layer is
invariant to the order of the points (equivariant in its output).
"""

import keras
import numpy as np
from keras import ops

from keras_dlss import _validation as v
from keras_dlss.layers.edge_conv import point_normalization

_NORMALIZATIONS = ("batch", "layer", "none")


def _units(name, value):
    try:
        units = tuple(int(u) for u in value)
    except TypeError:
        units = ()
    if not units or any(u < 1 for u in units):
        raise ValueError(
            f"Argument `{name}` must be a non-empty list of ints >= 1. Received: {name}={value!r}"
        )
    return units


@keras.saving.register_keras_serializable(package="keras_dlss")
class TNet(keras.layers.Layer):
    """Predicts a `d × d` transform from a point set and applies it to every point.

    Args:
        point_units: list of int. Widths of the shared per-point MLP. Defaults
            to `(64, 128, 1024)` (the paper's).
        dense_units: list of int. Widths of the fully connected layers after
            max pooling. Defaults to `(512, 256)`.
        normalization: str. `"batch"` (the paper's), `"layer"` or `"none"`
            after each hidden layer. Defaults to `"batch"`.
        transform_regularizer: Optional Keras regularizer applied to the
            predicted matrices `[batch, d, d]` and added with `add_loss`, e.g.
            `keras_dlss.regularizers.OrthogonalityRegularizer(0.001)`.

    Input shape:
        `[batch, num_points, d]` with known `d` (3 for coordinates).

    Returns:
        `[batch, num_points, d]`: `inputs @ A`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import TNet
    from keras_dlss.regularizers import OrthogonalityRegularizer

    points = np.random.rand(2, 16, 3).astype("float32")
    tnet = TNet((8, 16), (8,), transform_regularizer=OrthogonalityRegularizer(0.001))
    aligned = tnet(points)     # [2, 16, 3]; a fresh T-Net is the identity
    assert np.allclose(aligned, points, atol=1e-6)
    ```

    References:
        Qi et al. 2017, https://arxiv.org/abs/1612.00593 (Sec. 4.2, Appendix C);
        Jaderberg et al. 2015, "Spatial Transformer Networks",
        https://arxiv.org/abs/1506.02025.
    """

    def __init__(
        self,
        point_units=(64, 128, 1024),
        dense_units=(512, 256),
        normalization="batch",
        transform_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.point_units = _units("point_units", point_units)
        self.dense_units = _units("dense_units", dense_units)
        self.normalization = v.check_one_of("normalization", normalization, _NORMALIZATIONS)
        self.transform_regularizer = keras.regularizers.get(transform_regularizer)

    def _block(self, units, name):
        dense = keras.layers.Dense(
            units,
            use_bias=self.normalization == "none",
            name=f"{name}_dense",
            dtype=self.dtype_policy,
        )
        norm = point_normalization(self.normalization, name=f"{name}_norm", dtype=self.dtype_policy)
        return dense, norm

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "Argument `inputs` must have shape [batch, num_points, d] with known d. "
                f"Received: inputs.shape={v.shape_str(input_shape)}"
            )
        d = int(input_shape[-1])
        self.dim = d
        shape = tuple(input_shape)
        self.point_blocks, self.dense_blocks = [], []
        for i, units in enumerate(self.point_units):
            dense, norm = self._block(units, f"point_{i}")
            dense.build(shape)
            shape = shape[:-1] + (units,)
            norm.build(shape)
            self.point_blocks.append((dense, norm))
        shape = (shape[0], shape[-1])
        for i, units in enumerate(self.dense_units):
            dense, norm = self._block(units, f"fc_{i}")
            dense.build(shape)
            shape = (shape[0], units)
            norm.build(shape)
            self.dense_blocks.append((dense, norm))
        # Zero kernel, identity bias: the network starts as the identity transform.
        self.transform = keras.layers.Dense(
            d * d,
            kernel_initializer="zeros",
            bias_initializer=keras.initializers.Constant(np.eye(d).ravel().tolist()),
            name="transform",
            dtype=self.dtype_policy,
        )
        self.transform.build(shape)

    def call(self, inputs, training=None):
        v.check_rank("inputs", inputs, 3)
        x = inputs
        for dense, norm in self.point_blocks:
            x = ops.relu(norm(dense(x), training=training))
        x = ops.max(x, axis=1)
        for dense, norm in self.dense_blocks:
            x = ops.relu(norm(dense(x), training=training))
        matrices = ops.reshape(self.transform(x), (-1, self.dim, self.dim))
        if self.transform_regularizer is not None:
            self.add_loss(self.transform_regularizer(matrices))
        return ops.matmul(inputs, matrices)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "point_units": list(self.point_units),
            "dense_units": list(self.dense_units),
            "normalization": self.normalization,
            "transform_regularizer": keras.regularizers.serialize(self.transform_regularizer),
        }
