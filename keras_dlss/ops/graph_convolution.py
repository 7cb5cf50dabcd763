"""Symmetrically normalized neighbourhood averaging (Kipf & Welling 2017, Eq. 2).

    H' = D^-1/2 (A + I) D^-1/2 H,     D_ii = sum_j (A + I)_ij,

the first-order approximation of spectral graph convolution the GCN layer is built
on. Dense and sparse (edge list + `segment_sum`) paths give the same numbers, under
the same self-loop policy as graph attention (`self_loops="add"` is the paper's
renormalization trick).
"""

from keras import ops

from keras_dlss import _validation as v
from keras_dlss.ops._graph import check_graph, dense_mask, flat_edges, is_edge_list


def graph_convolution(values, graph, *, self_loops="add"):
    """Propagates `values` one step over the normalized graph, D^-1/2 Â D^-1/2 values.

    Args:
        values: float tensor `[batch, N, F]`.
        graph: dense adjacency `[batch, N, N]` (float or bool; (i, j) nonzero means
            i receives from j) or integer edge list `[batch, E, 2]` of `(i, j)`
            pairs, `(-1, -1)` for padding. Edge weights are not used: any nonzero
            entry counts as one edge.
        self_loops: str. "add" (the paper's Â = A + I), "remove" or "keep".

    Returns:
        `[batch, N, F]`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.ops import graph_convolution

    x = np.random.rand(1, 3, 2).astype("float32")
    path = np.array([[[0, 1, 0], [1, 0, 1], [0, 1, 0]]], "float32")
    smoothed = graph_convolution(x, path)   # [1, 3, 2]
    ```

    References:
        Kipf & Welling 2017, "Semi-Supervised Classification with Graph
        Convolutional Networks", https://arxiv.org/abs/1609.02907
    """
    values = ops.convert_to_tensor(values)
    v.check_rank("values", values, 3)
    check_graph(graph, values.shape[1], self_loops)
    if is_edge_list(graph):
        return _sparse(values, graph, self_loops)
    return _dense(values, graph, self_loops)


def _inverse_sqrt(degree):
    safe = ops.maximum(degree, ops.ones_like(degree))
    return ops.where(degree > 0, ops.rsqrt(safe), ops.zeros_like(degree))


def _dense(values, adjacency, self_loops):
    weights = ops.cast(dense_mask(ops.convert_to_tensor(adjacency), self_loops), values.dtype)
    scale = _inverse_sqrt(ops.sum(weights, axis=-1))[..., None]
    return scale * ops.matmul(weights, scale * values)


def _sparse(values, edges, self_loops):
    shape = ops.shape(values)
    batch, num_nodes, width = shape[0], values.shape[1], values.shape[2]
    num_nodes = num_nodes if num_nodes is not None else shape[1]
    target, source, mask = flat_edges(edges, batch, num_nodes, self_loops)
    segments = batch * num_nodes
    weights = ops.cast(mask, values.dtype)
    scale = _inverse_sqrt(ops.segment_sum(weights, target, num_segments=segments))
    weights = weights * ops.take(scale, target, axis=0) * ops.take(scale, source, axis=0)
    flat = ops.reshape(values, (-1, width))
    messages = weights[:, None] * ops.take(flat, source, axis=0)
    out = ops.segment_sum(messages, target, num_segments=segments)
    return ops.reshape(out, (batch, num_nodes, width))
