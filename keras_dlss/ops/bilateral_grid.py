"""Gaussian message passing for the dense CRF: exact O(N²) and fast filtering.

Krähenbühl & Koltun (2011) reduce each mean-field step of a fully connected
CRF to Gaussian filtering of the label marginals, `m_i = Σ_{j≠i} k(f_i, f_j) Q_j`.
Three ways to compute it live here:

* `exact_gaussian_message`: the N×N kernel matrix, brute force. Memory grows as
  N² (64² pixels: 64 MiB per image in float32; 256²: 16 GiB, infeasible).
* `separable_spatial_message`: the spatial kernel `exp(-|p_i - p_j|² / 2θ²)`
  factorizes over rows and columns, so two small matmuls with [H, H] and
  [W, W] Gaussian matrices give the *exact* message in O(N (H + W)).
* `bilateral_grid_message`: the appearance kernel over position and colour
  (a 2 + C dimensional feature space) is approximated on a regular grid
  (Paris & Durand 2006's bilateral grid): splat each pixel's marginals onto the
  2^(2+C) surrounding grid nodes with multilinear weights, blur the grid with
  a Gaussian along each axis, and slice it back with the same weights. The
  grid shape is static (XLA), chosen from the initial bandwidths; the cell
  sizes follow the data's colour range, and the blur follows the (trainable)
  bandwidths: splatting plus slicing with linear "tent" weights already blurs
  by a variance of 1/3 cell² per axis, so the grid blur only adds the rest,
  `τ² - 1/3` for a bandwidth of τ cells. Each node count is a trade-off: the
  measured error against the exact message is in docs/segmentation.md.

Everything is `keras.ops` (backend-neutral, differentiable, static shapes).
"""

import itertools
import math

from keras import ops

from keras_dlss._validation import static_dim  # noqa: F401 (re-exported for dense_crf)

__all__ = []  # internal: the public entry point is `dense_crf_mean_field`

# Splat and slice with tent weights add this variance (in cells²) along each axis.
_TENT_VARIANCE = 1.0 / 3.0
_MIN_BLUR_VARIANCE = 1e-2


def pixel_positions(height, width, dtype):
    ys, xs = ops.meshgrid(
        ops.arange(height, dtype=dtype), ops.arange(width, dtype=dtype), indexing="ij"
    )
    return ops.stack([ops.reshape(ys, (-1,)), ops.reshape(xs, (-1,))], axis=-1)


def bilateral_features(image, spatial_sigma, color_sigma):
    """[B, N, 2 + C] features `(y / θα, x / θα, colour / θβ)` of each pixel."""
    b, h, w, c = image.shape
    pos = pixel_positions(h, w, image.dtype)[None] / spatial_sigma
    colour = ops.reshape(image, (-1, h * w, c)) / color_sigma
    return ops.concatenate([ops.broadcast_to(pos, (ops.shape(colour)[0], h * w, 2)), colour], -1)


def gaussian_matrix(features):
    """exp(-½|f_i - f_j|²) with a zero diagonal (mean field excludes j = i): [..., N, N]."""
    sq = ops.sum(features * features, axis=-1)
    cross = ops.matmul(features, ops.swapaxes(features, -1, -2))
    dist = ops.maximum(sq[..., :, None] + sq[..., None, :] - 2.0 * cross, 0.0)
    n = features.shape[-2]
    return ops.exp(-0.5 * dist) * (1.0 - ops.eye(n, dtype=features.dtype))


def exact_gaussian_message(q, features):
    """Σ_{j≠i} exp(-½|f_i - f_j|²) Q_j by brute force. q [B, N, L], features [B or 1, N, F]."""
    return ops.matmul(gaussian_matrix(features), q)


def _axis_gaussian(n, sigma, dtype):
    idx = ops.arange(n, dtype=dtype)
    diff = idx[:, None] - idx[None, :]
    return ops.exp(-0.5 * ops.square(diff / sigma))


def separable_spatial_message(q, spatial_sigma):
    """Exact spatial message on a [B, H, W, L] grid: rows then columns, minus the pixel itself."""
    _, h, w, _ = q.shape
    ky = _axis_gaussian(h, spatial_sigma, q.dtype)
    kx = _axis_gaussian(w, spatial_sigma, q.dtype)
    out = ops.einsum("yz,bzxl->byxl", ky, q)
    out = ops.einsum("xz,byzl->byxl", kx, out)
    return out - q


def default_grid_shape(image_shape, spatial_sigma, color_sigma, color_range=1.0):
    """Nodes per axis: a cell per spatial bandwidth, two per colour bandwidth (at most 64)."""
    _, h, w, _ = image_shape

    def nodes(extent, sigma):
        return int(min(max(math.ceil(extent / sigma) + 1, 2), 64))

    # Colour nodes every half bandwidth: at one per bandwidth the tents' own blur
    # dominates and the max error doubles (docs/segmentation.md).
    return (
        nodes(h - 1, spatial_sigma),
        nodes(w - 1, spatial_sigma),
        nodes(color_range, color_sigma / 2.0),
    )


def _grid_coordinates(image, grid_shape):
    """Continuous grid coordinates [B, N, 2 + C] and the cell sizes [2 + C] (pixels, colour units)."""
    b, h, w, c = image.shape
    gy, gx, gc = grid_shape
    pos = pixel_positions(h, w, image.dtype)
    cell_y, cell_x = max(h - 1, 1) / (gy - 1), max(w - 1, 1) / (gx - 1)
    colour = ops.reshape(image, (-1, h * w, c))
    low = ops.min(colour, axis=(0, 1))
    extent = ops.maximum(ops.max(colour, axis=(0, 1)) - low, 1e-6)
    cell_c = extent / (gc - 1)
    spatial = pos / ops.convert_to_tensor([cell_y, cell_x], image.dtype)
    coords = ops.concatenate(
        [
            ops.broadcast_to(spatial[None], (ops.shape(colour)[0], h * w, 2)),
            (colour - low) / cell_c,
        ],
        axis=-1,
    )
    cells = ops.concatenate([ops.convert_to_tensor([cell_y, cell_x], image.dtype), cell_c], 0)
    return coords, cells


def _blur_axis(grid, axis, tau, size):
    """Gaussian blur of `grid` along `axis` adding variance τ² - 1/3, scaled to a peak of 1."""
    var = ops.maximum(tau * tau - _TENT_VARIANCE, _MIN_BLUR_VARIANCE)
    idx = ops.arange(size, dtype=grid.dtype)
    kernel = ops.exp(-0.5 * ops.square(idx[:, None] - idx[None, :]) / var)
    # Tents have mass 1, so the whole operator has the blur's mass; the kernel we
    # approximate, exp(-d²/2τ²) with peak 1, has mass sqrt(2π)·τ.
    lags = ops.arange(-(size - 1), size, dtype=grid.dtype)
    mass = ops.sum(ops.exp(-0.5 * ops.square(lags) / var))
    kernel = kernel * (math.sqrt(2.0 * math.pi) * tau / mass)
    moved = ops.moveaxis(grid, axis, -1)
    blurred = ops.matmul(moved, kernel)
    return ops.moveaxis(blurred, -1, axis)


def bilateral_grid_message(q, image, spatial_sigma, color_sigma, grid_shape):
    """Approximate Σ_{j≠i} exp(-|p_i-p_j|²/2θα² - |I_i-I_j|²/2θβ²) Q_j on a bilateral grid.

    Args:
        q: [B, H, W, L] marginals.
        image: [B, H, W, C] colours (C <= 3: the grid has 2^(2+C) corners per pixel).
        spatial_sigma, color_sigma: bandwidths θα (pixels) and θβ (colour units).
        grid_shape: static (nodes_y, nodes_x, nodes_per_colour_channel), each >= 2.

    Returns:
        [B, H, W, L] messages.
    """
    b, h, w, num_labels = q.shape
    c = image.shape[-1]
    batch = ops.shape(q)[0]
    sizes = [grid_shape[0], grid_shape[1]] + [grid_shape[2]] * c
    coords, cells = _grid_coordinates(image, grid_shape)
    limits = ops.convert_to_tensor([s - 2 for s in sizes], coords.dtype)
    base = ops.clip(ops.floor(coords), 0.0, limits)
    frac = coords - base
    base = ops.cast(base, "int32")
    strides = [int(math.prod(sizes[d + 1 :])) for d in range(len(sizes))]
    num_cells = int(math.prod(sizes))
    offsets = ops.arange(batch, dtype="int32")[:, None] * num_cells
    values = ops.reshape(q, (-1, h * w, num_labels))
    corners = []
    for corner in itertools.product((0, 1), repeat=len(sizes)):
        index = offsets
        weight = 1.0
        for d, bit in enumerate(corner):
            index = index + (base[..., d] + bit) * strides[d]
            weight = weight * (frac[..., d] if bit else 1.0 - frac[..., d])
        corners.append((ops.reshape(index, (-1,)), weight[..., None]))
    grid = 0.0
    for index, weight in corners:
        splat = ops.reshape(values * weight, (-1, num_labels))
        grid = grid + ops.segment_sum(splat, index, num_segments=batch * num_cells)
    grid = ops.reshape(grid, (-1, *sizes, num_labels))
    sigmas = ops.concatenate(
        [ops.stack([spatial_sigma, spatial_sigma]), ops.ones((c,), cells.dtype) * color_sigma], 0
    )
    taus = sigmas / cells
    for d, size in enumerate(sizes):
        grid = _blur_axis(grid, d + 1, taus[d], size)
    flat = ops.reshape(grid, (-1, num_labels))
    out = 0.0
    for index, weight in corners:
        out = out + ops.reshape(ops.take(flat, index, axis=0), (-1, h * w, num_labels)) * weight
    return ops.reshape(out, (-1, h, w, num_labels)) - q
