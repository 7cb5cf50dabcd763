"""Mean-field inference in a fully connected (dense) CRF over the pixels of an image.

Krähenbühl & Koltun, "Efficient Inference in Fully Connected CRFs with Gaussian
Edge Potentials", NIPS 2011; unrolled as a recurrent network that trains end to
end by Zheng et al., "Conditional Random Fields as Recurrent Neural Networks",
ICCV 2015 (CRF-as-RNN).

The energy of a labelling x is `E(x) = Σ_i ψ_u(x_i) + Σ_{i<j} μ(x_i, x_j) k(f_i, f_j)`
with unary `ψ_u = -logits` and `k = w_s k_spatial + w_b k_bilateral`:

* spatial (smoothness) kernel `exp(-|p_i - p_j|² / 2θγ²)`,
* bilateral (appearance) kernel `exp(-|p_i - p_j|² / 2θα² - |I_i - I_j|² / 2θβ²)`,

and label compatibility μ (Potts: `μ(l, l') = [l ≠ l']`, or a learned matrix).
One mean-field step (Zheng et al., Algorithm 1) is: message passing
`m_i(l) = Σ_{j≠i} k(f_i, f_j) Q_j(l)`, compatibility transform `p_i = μ m_i`,
and `Q_i = softmax(logits_i - p_i)`. The function returns the last pre-softmax
values, so it stacks on an FCN's logits and feeds a cross-entropy loss.

Why iterations are a static Python loop: mean field converges in about five
steps (Krähenbühl & Koltun, Fig. 3), an unrolled loop is what CRF-as-RNN
backpropagates through, and XLA compiles it with static shapes (no
`while_loop` gradient pitfalls, PITFALLS.md).
"""

import keras
from keras import ops

from keras_dlss._validation import (
    check_dims_match,
    check_one_of,
    check_positive_int,
    check_rank,
    concrete_value,
    shape_str,
)
from keras_dlss.ops import bilateral_grid as grid_ops

__all__ = ["dense_crf_mean_field"]

METHODS = ("auto", "exact", "fast")
# "auto" uses the exact O(N²) messages up to this many pixels (32×32: 4 MiB per kernel matrix).
EXACT_MAX_PIXELS = 1024
_LOW_PRECISION = ("float16", "bfloat16")


def _check_float(name, x):
    dtype = keras.backend.standardize_dtype(x.dtype)
    if "float" not in dtype:
        raise ValueError(
            f"Argument `{name}` must be a floating tensor. Received: {name}.dtype={dtype}"
        )


def _validate(unary, image, compatibility, iterations, method, grid_shape):
    check_rank("unary", unary, 4)
    check_rank("image", image, 4)
    _check_float("unary", unary)
    _check_float("image", image)
    for axis, what in ((0, "the batch size"), (1, "the height"), (2, "the width")):
        check_dims_match("image", image, axis, unary.shape[axis], f"{what} of `unary`")
    for axis in (1, 2):
        if grid_ops.static_dim(unary.shape[axis]) is None:
            raise ValueError(
                "Argument `unary` must have static height and width (the message passing "
                f"builds static kernels). Received: unary.shape={shape_str(unary.shape)}"
            )
    check_positive_int("iterations", iterations)
    check_one_of("method", method, METHODS)
    num_labels = unary.shape[-1]
    if compatibility is not None and tuple(compatibility.shape) != (num_labels, num_labels):
        raise ValueError(
            f"Argument `compatibility` must be a [{num_labels}, {num_labels}] matrix (labels of "
            f"`unary`). Received: compatibility.shape={shape_str(compatibility.shape)}"
        )
    if grid_shape is not None and (
        len(grid_shape) != 3 or any(not isinstance(g, int) or g < 2 for g in grid_shape)
    ):
        raise ValueError(
            "Argument `grid_shape` must be 3 integers >= 2 (nodes along y, x and each colour "
            f"channel). Received: grid_shape={grid_shape!r}"
        )


def resolve_method(method, unary_shape, channels):
    """ "exact" or "fast" for a static [B, H, W, L] shape (checks the fast path's limits)."""
    pixels = int(unary_shape[1]) * int(unary_shape[2])
    if method == "auto":
        method = "exact" if pixels <= EXACT_MAX_PIXELS else "fast"
    if method == "fast" and channels > 3:
        raise ValueError(
            "Argument `image` must have at most 3 channels for method='fast' (the bilateral "
            f"grid has 2^(2+C) corners per pixel). Received: image channels={channels}"
        )
    return method


def potts_compatibility(num_labels, dtype="float32"):
    """μ(l, l') = 1 when l ≠ l', else 0: an [L, L] matrix."""
    return 1.0 - ops.eye(num_labels, dtype=dtype)


def _make_message_fn(image, method, spatial_sigma, bil_sigma, color_sigma, grid_shape, weights):
    spatial_weight, bilateral_weight = weights
    b, h, w, _ = image.shape
    if method == "exact":
        spatial_feats = grid_ops.pixel_positions(h, w, image.dtype)[None] / spatial_sigma
        k_spatial = grid_ops.gaussian_matrix(spatial_feats)
        k_bilateral = grid_ops.gaussian_matrix(
            grid_ops.bilateral_features(image, bil_sigma, color_sigma)
        )
        kernel = spatial_weight * k_spatial + bilateral_weight * k_bilateral

        def message(q):
            flat = ops.reshape(q, (-1, h * w, q.shape[-1]))
            return ops.reshape(ops.matmul(kernel, flat), ops.shape(q))

        return message

    def message(q):
        smooth = grid_ops.separable_spatial_message(q, spatial_sigma)
        appearance = grid_ops.bilateral_grid_message(q, image, bil_sigma, color_sigma, grid_shape)
        return spatial_weight * smooth + bilateral_weight * appearance

    return message


def _default_grid(image_shape, spatial_sigma, color_sigma):
    sigmas = [concrete_value(v) for v in (spatial_sigma, color_sigma)]
    if any(v is None or v.size != 1 for v in sigmas):
        raise ValueError(
            "Argument `grid_shape` is required when the bandwidths are symbolic tensors "
            "(method='fast'). Received: grid_shape=None"
        )
    return grid_ops.default_grid_shape(image_shape, float(sigmas[0]), float(sigmas[1]))


def dense_crf_mean_field(
    unary,
    image,
    *,
    iterations=5,
    spatial_weight=1.0,
    spatial_sigma=1.0,
    bilateral_weight=1.0,
    bilateral_spatial_sigma=4.0,
    bilateral_color_sigma=0.1,
    compatibility=None,
    method="auto",
    grid_shape=None,
):
    """Mean-field inference of a dense CRF with Gaussian edge potentials (CRF-as-RNN).

    Args:
        unary: float [batch, height, width, num_labels] logits (the unary is
            their negative). Height and width must be static.
        image: float [batch, height, width, channels] reference image whose
            colours drive the bilateral kernel (same batch, height and width).
        iterations: int >= 1. Mean-field steps, unrolled. Defaults to `5`.
        spatial_weight: float or scalar tensor. Weight `w_s` of the spatial
            (smoothness) kernel. Defaults to `1.0`.
        spatial_sigma: float or scalar tensor > 0. θγ in pixels. Defaults to `1.0`.
        bilateral_weight: float or scalar tensor. Weight `w_b` of the bilateral
            (appearance) kernel. Defaults to `1.0`.
        bilateral_spatial_sigma: float or scalar tensor > 0. θα in pixels.
            Defaults to `4.0`.
        bilateral_color_sigma: float or scalar tensor > 0. θβ in the image's
            colour units (e.g. 0.1 for colours in [0, 1]). Defaults to `0.1`.
        compatibility: optional [num_labels, num_labels] label compatibility μ
            (penalty for neighbours labelled l and l'). Defaults to Potts.
        method: `"exact"` (N×N kernel matrices, O(N²) time and memory),
            `"fast"` (exact separable spatial filtering plus an approximate
            bilateral grid, O(N) per step), or `"auto"` (exact up to 1,024
            pixels). Defaults to `"auto"`.
        grid_shape: optional static `(nodes_y, nodes_x, nodes_per_colour)` of
            the bilateral grid (fast path); by default about one node per
            bandwidth (needs Python-number bandwidths).

    Returns:
        float [batch, height, width, num_labels]: `logits - μ m` after the
        last step; its softmax is the mean-field marginal Q.

    Example:

    ```python
    import numpy as np
    from keras_dlss.ops import dense_crf_mean_field

    logits = np.random.default_rng(0).normal(size=(1, 8, 8, 3)).astype("float32")
    image = np.random.default_rng(1).random((1, 8, 8, 3)).astype("float32")
    refined = dense_crf_mean_field(logits, image, iterations=3)
    assert refined.shape == (1, 8, 8, 3)
    ```

    References:
        Krähenbühl & Koltun 2011, https://arxiv.org/abs/1210.5644;
        Zheng et al. 2015, https://arxiv.org/abs/1502.03240;
        Paris & Durand 2006 (bilateral grid), https://doi.org/10.1007/11744085_44.
    """
    unary = ops.convert_to_tensor(unary)
    image = ops.convert_to_tensor(image)
    if compatibility is not None:
        compatibility = ops.convert_to_tensor(compatibility)
    _validate(unary, image, compatibility, iterations, method, grid_shape)
    method = resolve_method(method, unary.shape, image.shape[-1])
    if method == "fast" and grid_shape is None:
        grid_shape = _default_grid(image.shape, bilateral_spatial_sigma, bilateral_color_sigma)
    out_dtype = keras.backend.standardize_dtype(unary.dtype)
    # Kernel sums over thousands of pixels lose too much in float16/bfloat16.
    dtype = "float32" if out_dtype in _LOW_PRECISION else out_dtype
    unary, image = ops.cast(unary, dtype), ops.cast(image, dtype)
    num_labels = unary.shape[-1]
    mu = (
        potts_compatibility(num_labels, dtype)
        if compatibility is None
        else ops.cast(compatibility, dtype)
    )
    scalars = [
        ops.cast(v, dtype)
        for v in (
            spatial_weight,
            spatial_sigma,
            bilateral_weight,
            bilateral_spatial_sigma,
            bilateral_color_sigma,
        )
    ]
    w_s, s_sigma, w_b, b_sigma, c_sigma = scalars
    message = _make_message_fn(image, method, s_sigma, b_sigma, c_sigma, grid_shape, (w_s, w_b))
    logits = unary
    for _ in range(iterations):
        q = ops.softmax(logits, axis=-1)
        logits = unary - ops.matmul(message(q), mu)
    return ops.cast(logits, out_dtype)
