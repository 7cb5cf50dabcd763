"""Masked attention over graph neighbourhoods (Veličković et al. 2018, Eq. 1-4).

For one head with projected features h_i = W x_i and attention vector a = [a_t; a_s],

    e_ij = LeakyReLU(a_t · h_i + a_s · h_j),      alpha_ij = softmax_{j in N(i)} e_ij,
    h'_i = sum_{j in N(i)} alpha_ij h_j.

The score splits into a per-target and a per-source term, so both are computed once
per node and the N x N (or E) scores are sums, never concatenations. Two paths give
the same numbers (the tests check it):

- dense: scores for all N x N pairs, masked by the adjacency; O(N^2 H) memory, one
  batched matmul, the fastest choice for small graphs;
- sparse: scores only on the E edges, normalized with `segment_softmax` and summed
  with `segment_sum`; O(E H F) memory, the choice for graphs like Cora (E ~ 4N).
"""

from keras import ops

from keras_dlss import _validation as v
from keras_dlss.ops._graph import check_graph, dense_mask, flat_edges, is_edge_list
from keras_dlss.ops.segment_softmax import lowest, masked_segment_softmax, tiny


def graph_attention(
    values,
    scores_target,
    scores_source,
    graph,
    *,
    self_loops="add",
    negative_slope=0.2,
    dropout=None,
):
    """Aggregates `values` over each node's neighbours with GAT attention.

    Args:
        values: float tensor `[batch, N, heads, F]`, the projected features W x.
        scores_target: float tensor `[batch, N, heads]`, a_t · W x_i per node.
        scores_source: float tensor `[batch, N, heads]`, a_s · W x_j per node.
        graph: dense adjacency `[batch, N, N]` (float or bool; (i, j) nonzero means
            i attends to j) or integer edge list `[batch, E, 2]` of `(i, j)` pairs,
            `(-1, -1)` for padding.
        self_loops: str. "add" (every node attends to itself; the paper's),
            "remove" or "keep" (use the graph as given). Defaults to `"add"`.
        negative_slope: float. LeakyReLU slope of the scores. Defaults to `0.2`.
        dropout: optional callable applied to the normalized attention
            coefficients (the paper's attention dropout).

    Returns:
        `[batch, N, heads, F]`; a node without neighbours gets zeros.

    Example:

    ```python
    import numpy as np
    from keras_dlss.ops import graph_attention

    h = np.random.rand(1, 4, 2, 3).astype("float32")    # 4 nodes, 2 heads
    s = np.random.rand(1, 4, 2).astype("float32")
    edges = np.array([[[0, 1], [1, 0], [2, 3], [3, 2]]], "int32")
    out = graph_attention(h, s, s, edges)                # [1, 4, 2, 3]
    ```

    References:
        Veličković et al. 2018, "Graph Attention Networks",
        https://arxiv.org/abs/1710.10903
    """
    values = ops.convert_to_tensor(values)
    v.check_rank("values", values, 4)
    for name, s in (("scores_target", scores_target), ("scores_source", scores_source)):
        v.check_rank(name, s, 3)
        v.check_dims_match(name, s, 1, values.shape[1], "values.shape[1]")
    check_graph(graph, values.shape[1], self_loops)
    v.check_range("negative_slope", negative_slope, 0.0, None)
    scores_target = ops.convert_to_tensor(scores_target)
    scores_source = ops.convert_to_tensor(scores_source)
    dropout = dropout or (lambda x: x)
    if is_edge_list(graph):
        return _sparse(
            values, scores_target, scores_source, graph, self_loops, negative_slope, dropout
        )
    return _dense(values, scores_target, scores_source, graph, self_loops, negative_slope, dropout)


def _dense(values, scores_target, scores_source, adjacency, self_loops, slope, dropout):
    mask = dense_mask(ops.convert_to_tensor(adjacency), self_loops)[..., None]
    logits = ops.leaky_relu(scores_target[:, :, None, :] + scores_source[:, None, :, :], slope)
    logits = ops.where(mask, logits, ops.full_like(logits, lowest(logits.dtype)))
    peak = ops.stop_gradient(ops.max(logits, axis=2, keepdims=True))
    weights = ops.where(mask, ops.exp(logits - peak), ops.zeros_like(logits))
    total = ops.maximum(ops.sum(weights, axis=2, keepdims=True), tiny(logits.dtype))
    alpha = dropout(weights / total)
    return ops.einsum("bijh,bjhf->bihf", alpha, values)


def _sparse(values, scores_target, scores_source, edges, self_loops, slope, dropout):
    shape = ops.shape(values)
    batch, num_nodes, heads, width = shape[0], values.shape[1], values.shape[2], values.shape[3]
    num_nodes = num_nodes if num_nodes is not None else shape[1]
    target, source, mask = flat_edges(edges, batch, num_nodes, self_loops)
    segments = batch * num_nodes
    flat_t = ops.reshape(scores_target, (-1, heads))
    flat_s = ops.reshape(scores_source, (-1, heads))
    logits = ops.leaky_relu(
        ops.take(flat_t, target, axis=0) + ops.take(flat_s, source, axis=0), slope
    )
    alpha = dropout(masked_segment_softmax(logits, target, segments, mask))
    messages = alpha[:, :, None] * ops.take(ops.reshape(values, (-1, heads, width)), source, axis=0)
    out = ops.segment_sum(messages, target, num_segments=segments)
    return ops.reshape(out, (batch, num_nodes, heads, width))
