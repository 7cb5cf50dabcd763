"""k-nearest-neighbour graphs on point sets, the graph of EdgeConv (DGCNN).

Wang et al., "Dynamic Graph CNN for Learning on Point Clouds", ACM TOG 2019
(arXiv:1801.07829), Sec. 3.1-3.2: each point's neighbourhood is its k nearest
points in the current feature space, recomputed at every layer (the graph is
"dynamic"), and the edge feature of (i, j) is h(x_i, x_j - x_i).

Shapes stay static for XLA and ONNX: the distances are one `[B, N, N]` matmul
(||a||² - 2 a·b + ||b||²), the neighbours one `ops.top_k` over them (no sort of
data-dependent length), and the gather one `ops.take` on the batch-flattened
features with offset indices, which every backend and tf2onnx lower to a plain
Gather. Memory is O(B·N²): fine for the 1,024-point clouds of ModelNet, as in
the paper's reference code.
"""

import keras
from keras import ops

from keras_dlss import _validation as v

__all__ = ["gather_neighbors", "knn_indices"]


def _check_k(points, k):
    k = v.check_positive_int("k", k)
    n = v.static_dim(points.shape[1])
    if n is not None and k >= n:
        raise ValueError(
            f"Argument `k` must be smaller than the number of points ({n}). "
            f"Received: k={k}, points.shape={v.shape_str(points.shape)}"
        )
    return k


def knn_indices(points, k):
    """Indices of each point's `k` nearest points (itself first), by Euclidean distance.

    Args:
        points: float `[batch, num_points, channels]`: coordinates or features.
        k: int, 1 <= k < num_points. Neighbours per point, the point itself
            included (as in DGCNN's reference code).

    Returns:
        int32 `[batch, num_points, k]`, nearest first.

    Example:

    ```python
    import numpy as np
    from keras_dlss.ops import knn_indices

    x = np.array([[[0.0], [1.0], [3.0], [7.0]]], "float32")
    print(np.asarray(knn_indices(x, 2)))   # [[[0 1] [1 0] [2 1] [3 2]]]
    ```

    References:
        Wang et al. 2019, https://arxiv.org/abs/1801.07829
    """
    points = ops.convert_to_tensor(points)
    v.check_rank("points", points, 3)
    v.check_dtype_kind("points", points, "floating")
    k = _check_k(points, k)
    squared = ops.sum(points * points, axis=-1)
    inner = ops.matmul(points, ops.transpose(points, (0, 2, 1)))
    distance = squared[:, :, None] - 2.0 * inner + squared[:, None, :]
    if keras.config.backend() == "jax":
        # jax lowers `lax.top_k` to a StableHLO `composite` op that TensorFlow 2.21's XLA
        # cannot deserialize, so a SavedModel exported from JAX (jax2tf) fails to run;
        # a full sort lowers to plain `sort` and exports (O(N log N) instead of O(N k)).
        indices = ops.argsort(distance, axis=-1)[..., :k]
    else:
        _, indices = ops.top_k(-distance, k=k, sorted=True)
    return ops.cast(indices, "int32")


def gather_neighbors(features, indices):
    """Features of each point's neighbours: `features[b, indices[b, i, j]]`.

    Args:
        features: `[batch, num_points, channels]`.
        indices: int `[batch, num_points, k]` with values in `[0, num_points)`
            (e.g. from `knn_indices`).

    Returns:
        `[batch, num_points, k, channels]`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.ops import gather_neighbors, knn_indices

    x = np.random.rand(2, 5, 3).astype("float32")
    neighbours = gather_neighbors(x, knn_indices(x, 3))
    assert neighbours.shape == (2, 5, 3, 3)
    ```

    References:
        Wang et al. 2019, https://arxiv.org/abs/1801.07829
    """
    features = ops.convert_to_tensor(features)
    indices = ops.convert_to_tensor(indices)
    v.check_rank("features", features, 3)
    v.check_rank("indices", indices, 3)
    v.check_dtype_kind("indices", indices, "integer")
    if not v.shapes_compatible(indices.shape[:2], features.shape[:2]):
        raise ValueError(
            "Argument `indices` must have shape [batch, num_points, k] matching `features` "
            f"{v.shape_str(features.shape)}. Received: indices.shape={v.shape_str(indices.shape)}"
        )
    v.check_ids_in_range("indices", indices, v.static_dim(features.shape[1]) or 2**31 - 1)
    shape = ops.shape(features)
    batch, num_points = shape[0], shape[1]
    channels = features.shape[-1]
    offsets = ops.reshape(
        ops.arange(batch, dtype="int32") * ops.cast(num_points, "int32"), (-1, 1, 1)
    )
    flat = ops.reshape(features, (-1, channels))
    return ops.take(flat, ops.cast(indices, "int32") + offsets, axis=0)
