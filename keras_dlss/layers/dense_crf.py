"""`DenseCRF`: a fully connected CRF as a recurrent layer (CRF-as-RNN).

Zheng et al., "Conditional Random Fields as Recurrent Neural Networks", ICCV
2015, over the dense CRF of Krähenbühl & Koltun (NIPS 2011). The math is
`keras_dlss.ops.dense_crf_mean_field`; this layer owns the trainable
parameters: the two kernel weights, the three bandwidths and (optionally) the
label compatibility matrix.

Why bandwidths are stored as logarithms: gradient steps keep them positive
without a constraint that would rewrite the variable after each step. Why the
layer takes `[logits, image]` rather than the image as a constructor constant:
the image is per example, and a two-input layer stacks on any segmentation
network in the functional API and serializes without captured tensors.
Why the bilateral grid's node counts are fixed at `build`: XLA needs static
shapes, so they are chosen from the initial bandwidths; training changes the
blur on that grid, not its size.
"""

import math

import keras
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, check_range, shape_str
from keras_dlss.ops import bilateral_grid as grid_ops
from keras_dlss.ops import dense_crf as crf_ops

COMPATIBILITIES = ("potts", "learned")


@keras.saving.register_keras_serializable(package="keras_dlss")
class DenseCRF(keras.layers.Layer):
    """Dense CRF mean-field inference unrolled as a trainable recurrent layer.

    Call it on `[logits, image]`: the unary is the segmentation network's
    logits `[batch, height, width, num_labels]`, the image `[batch, height,
    width, channels]` drives the bilateral (appearance) kernel. Each of the
    `iterations` steps passes messages with a Gaussian spatial kernel and a
    bilateral kernel, applies the label compatibility and renormalizes
    (Zheng et al. 2015, Algorithm 1). The output has the logits' shape: refined
    logits whose softmax is the mean-field marginal, ready for a
    cross-entropy loss, so the CRF trains end to end with the network below it.

    Args:
        iterations: int >= 1. Mean-field steps (static, unrolled). Defaults to `5`.
        spatial_weight: float. Initial weight of the spatial kernel. Defaults to `1.0`.
        spatial_sigma: float > 0. Initial θγ in pixels. Defaults to `1.0`.
        bilateral_weight: float. Initial weight of the bilateral kernel.
            Defaults to `1.0`.
        bilateral_spatial_sigma: float > 0. Initial θα in pixels. Defaults to `4.0`.
        bilateral_color_sigma: float > 0. Initial θβ in colour units.
            Defaults to `0.1`.
        compatibility: `"potts"` (fixed `[l ≠ l']`) or `"learned"` (an
            `[L, L]` matrix initialized to Potts and trained). Defaults to `"potts"`.
        method: `"exact"`, `"fast"` or `"auto"` (exact up to 1,024 pixels), as in
            `dense_crf_mean_field`. Defaults to `"auto"`.
        grid_shape: optional `(nodes_y, nodes_x, nodes_per_colour)` of the fast
            path's bilateral grid; by default chosen at `build` from the
            initial bandwidths (colours assumed in [0, 1]).
        trainable_kernels: bool. Train the weights and bandwidths. Defaults to `True`.

    Returns:
        Refined logits, the shape of the first input.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import DenseCRF

    logits = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
    image = np.random.default_rng(1).random((2, 8, 8, 3)).astype("float32")
    crf = DenseCRF(iterations=3, compatibility="learned")
    refined = crf([logits, image])   # [2, 8, 8, 3]
    ```

    References:
        Zheng et al. 2015, https://arxiv.org/abs/1502.03240;
        Krähenbühl & Koltun 2011, https://arxiv.org/abs/1210.5644.
    """

    def __init__(
        self,
        iterations=5,
        spatial_weight=1.0,
        spatial_sigma=1.0,
        bilateral_weight=1.0,
        bilateral_spatial_sigma=4.0,
        bilateral_color_sigma=0.1,
        compatibility="potts",
        method="auto",
        grid_shape=None,
        trainable_kernels=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.iterations = check_positive_int("iterations", iterations)
        self.spatial_weight = float(check_range("spatial_weight", spatial_weight))
        self.bilateral_weight = float(check_range("bilateral_weight", bilateral_weight))
        for name, value in (
            ("spatial_sigma", spatial_sigma),
            ("bilateral_spatial_sigma", bilateral_spatial_sigma),
            ("bilateral_color_sigma", bilateral_color_sigma),
        ):
            check_range(name, value, 0.0, None, low_inclusive=False)
        self.spatial_sigma = float(spatial_sigma)
        self.bilateral_spatial_sigma = float(bilateral_spatial_sigma)
        self.bilateral_color_sigma = float(bilateral_color_sigma)
        self.compatibility = check_one_of("compatibility", compatibility, COMPATIBILITIES)
        self.method = check_one_of("method", method, crf_ops.METHODS)
        if grid_shape is not None:
            grid_shape = tuple(grid_shape)
            if len(grid_shape) != 3 or any(not isinstance(g, int) or g < 2 for g in grid_shape):
                raise ValueError(
                    "Argument `grid_shape` must be 3 integers >= 2. "
                    f"Received: grid_shape={grid_shape!r}"
                )
        self.grid_shape = grid_shape
        self.trainable_kernels = bool(trainable_kernels)

    def _scalar(self, name, value):
        return self.add_weight(
            shape=(),
            name=name,
            initializer=keras.initializers.Constant(value),
            trainable=self.trainable_kernels,
        )

    def _check_shapes(self, unary_shape, image_shape):
        if len(unary_shape) != 4:
            raise ValueError(
                "Argument `unary` (the first input) must have rank 4 [batch, height, width, "
                f"labels]. Received: unary.shape={shape_str(unary_shape)}"
            )
        if len(image_shape) != 4:
            raise ValueError(
                "Argument `image` (the second input) must have rank 4 [batch, height, width, "
                f"channels]. Received: image.shape={shape_str(image_shape)}"
            )
        for axis in (1, 2):
            u, i = grid_ops.static_dim(unary_shape[axis]), grid_ops.static_dim(image_shape[axis])
            if u is None or i is None or u != i:
                raise ValueError(
                    "Argument `image` must have the static height and width of `unary`. "
                    f"Received: unary.shape={shape_str(unary_shape)}, "
                    f"image.shape={shape_str(image_shape)}"
                )

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(
                "Argument `inputs` must be a list [unary, image]. "
                f"Received: inputs with shape {input_shape!r}"
            )
        unary_shape, image_shape = (tuple(s) for s in input_shape)
        self._check_shapes(unary_shape, image_shape)
        num_labels = int(unary_shape[-1])
        self._method = crf_ops.resolve_method(self.method, unary_shape, int(image_shape[-1]))
        if self._method == "fast" and self.grid_shape is None:
            self._grid = grid_ops.default_grid_shape(
                image_shape, self.bilateral_spatial_sigma, self.bilateral_color_sigma
            )
        else:
            self._grid = self.grid_shape
        self.spatial_kernel_weight = self._scalar("spatial_weight", self.spatial_weight)
        self.bilateral_kernel_weight = self._scalar("bilateral_weight", self.bilateral_weight)
        self.log_spatial_sigma = self._scalar("log_spatial_sigma", math.log(self.spatial_sigma))
        self.log_bilateral_spatial_sigma = self._scalar(
            "log_bilateral_spatial_sigma", math.log(self.bilateral_spatial_sigma)
        )
        self.log_bilateral_color_sigma = self._scalar(
            "log_bilateral_color_sigma", math.log(self.bilateral_color_sigma)
        )
        self.compatibility_matrix = None
        if self.compatibility == "learned":
            potts = 1.0 - keras.ops.convert_to_numpy(ops.eye(num_labels))
            self.compatibility_matrix = self.add_weight(
                shape=(num_labels, num_labels),
                name="compatibility",
                initializer=keras.initializers.Constant(potts),
            )

    def call(self, inputs):
        unary, image = inputs
        self._check_shapes(tuple(unary.shape), tuple(image.shape))
        compat = self.compatibility_matrix
        return crf_ops.dense_crf_mean_field(
            unary,
            image,
            iterations=self.iterations,
            spatial_weight=self.spatial_kernel_weight,
            spatial_sigma=ops.exp(self.log_spatial_sigma),
            bilateral_weight=self.bilateral_kernel_weight,
            bilateral_spatial_sigma=ops.exp(self.log_bilateral_spatial_sigma),
            bilateral_color_sigma=ops.exp(self.log_bilateral_color_sigma),
            compatibility=None if compat is None else ops.convert_to_tensor(compat),
            method=self._method,
            grid_shape=self._grid,
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {
            **super().get_config(),
            "iterations": self.iterations,
            "spatial_weight": self.spatial_weight,
            "spatial_sigma": self.spatial_sigma,
            "bilateral_weight": self.bilateral_weight,
            "bilateral_spatial_sigma": self.bilateral_spatial_sigma,
            "bilateral_color_sigma": self.bilateral_color_sigma,
            "compatibility": self.compatibility,
            "method": self.method,
            "grid_shape": self.grid_shape,
            "trainable_kernels": self.trainable_kernels,
        }
