"""Graph inputs shared by graph attention and graph convolution (internal).

A graph arrives either as a dense adjacency `[batch, N, N]` (float or bool; entry
(i, j) nonzero means node i receives from, i.e. attends to, node j) or as an edge
list `[batch, E, 2]` of integer `(i, j)` pairs with the same meaning; `(-1, -1)`
pairs are padding, so graphs with different edge counts share one batch. The
dtype decides: integer means edge list. Both forms go through the same self-loop
policy, so the dense and sparse paths see the same neighbourhoods:

- "add": every node is its own neighbour (the GAT and GCN papers' choice); a
  self-edge already in the input is not counted twice.
- "remove": self-edges in the input are dropped.
- "keep": the input is used as given.
"""

from keras import ops

from keras_dlss import _validation as v

SELF_LOOPS = ("add", "remove", "keep")


def is_edge_list(graph):
    return "int" in str(ops.convert_to_tensor(graph).dtype)


def check_graph(graph, num_nodes, self_loops):
    """Validates `graph` against `num_nodes` (static) and the self-loop policy."""
    v.check_one_of("self_loops", self_loops, SELF_LOOPS)
    if is_edge_list(graph):
        v.check_rank("edges", graph, 3)
        if v.static_dim(graph.shape[-1]) != 2:
            raise ValueError(
                "Argument `edges` must have shape [batch, num_edges, 2]. "
                f"Received: edges.shape={v.shape_str(graph.shape)}"
            )
        values = v.concrete_value(graph)
        n = v.static_dim(num_nodes)
        if values is not None and values.size and n is not None:
            lo, hi = int(values.min()), int(values.max())
            if lo < -1 or hi >= n:
                bad = lo if lo < -1 else hi
                raise ValueError(
                    f"Argument `edges` must hold node ids in [0, {n}) (-1 for padding). "
                    f"Received: edges containing {bad}"
                )
        return
    v.check_rank("adjacency", graph, 3)
    n = v.static_dim(num_nodes)
    for axis in (1, 2):
        v.check_dims_match("adjacency", graph, axis, n, "the number of nodes")


def dense_mask(adjacency, self_loops):
    """Boolean `[batch, N, N]` neighbourhoods after the self-loop policy."""
    mask = ops.not_equal(adjacency, ops.zeros((), adjacency.dtype))
    if self_loops == "keep":
        return mask
    eye = ops.cast(ops.eye(ops.shape(adjacency)[-1]), "bool")[None]
    if self_loops == "add":
        return ops.logical_or(mask, eye)
    return ops.logical_and(mask, ops.logical_not(eye))


def flat_edges(edges, batch, num_nodes, self_loops):
    """Edges of all examples as one graph of `batch * num_nodes` nodes.

    Returns:
        `(targets, sources, mask)`, each `[batch * E']` (E' = E + N with
        `self_loops="add"`): node ids offset by `b * num_nodes`, and False on
        padding and on edges the policy drops.
    """
    edges = ops.cast(edges, "int32")
    target, source = edges[..., 0], edges[..., 1]
    mask = ops.greater_equal(ops.minimum(target, source), 0)
    if self_loops != "keep":
        mask = ops.logical_and(mask, ops.not_equal(target, source))
    if self_loops == "add":
        loops = ops.broadcast_to(ops.arange(num_nodes, dtype="int32")[None], (batch, num_nodes))
        target = ops.concatenate([target, loops], axis=1)
        source = ops.concatenate([source, loops], axis=1)
        mask = ops.concatenate([mask, ops.ones((batch, num_nodes), "bool")], axis=1)
    offset = (ops.arange(batch, dtype="int32") * num_nodes)[:, None]
    # Padding ids (-1) are moved to node 0 of their example; the mask zeroes their weight.
    target = ops.reshape(ops.where(mask, target, 0) + offset, (-1,))
    source = ops.reshape(ops.where(mask, source, 0) + offset, (-1,))
    return target, source, ops.reshape(mask, (-1,))
