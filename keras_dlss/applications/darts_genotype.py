"""DARTS genotypes: the discrete cell an architecture search ends with.

Liu, Simonyan & Yang 2019, Section 2.4: "we retain the top-k strongest
operations (from distinct nodes) among all non-zero candidate operations
collected from all the previous nodes", with k = 2 for convolutional cells; the
strength of an edge is the largest softmax weight of its non-zero operations,
and the edge keeps its strongest non-zero operation.

A genotype is a plain JSON-friendly dict, so it can be written to a file,
read back and handed to `DARTSNetwork(genotype=...)`:

    {"normal": [[op, input], ...], "normal_concat": [2, 3, ...],
     "reduce": [[op, input], ...], "reduce_concat": [2, 3, ...]}

with two `[op, input]` pairs per intermediate node (node `i` may read the two
cell inputs `0`, `1` or the earlier nodes `2 .. i + 1`), and the concatenated
nodes (every intermediate node, as in the paper).
"""

import numpy as np

from keras_dlss.applications.darts_operations import PRIMITIVES

__all__ = ["check_genotype", "derive_genotype", "num_edges"]


def num_edges(steps):
    """Edges of a cell with `steps` intermediate nodes: node i has 2 + i inputs."""
    return steps * (steps + 3) // 2


def _steps_for(edges):
    steps = 0
    while num_edges(steps) < edges:
        steps += 1
    return steps if num_edges(steps) == edges else None


def _softmax(a):
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _derive_cell(name, alpha, primitives):
    alpha = np.asarray(alpha, dtype=np.float64)
    steps = _steps_for(alpha.shape[0]) if alpha.ndim == 2 else None
    if steps is None or steps < 1 or alpha.shape[1] != len(primitives):
        raise ValueError(
            f"Argument `{name}` must have shape [steps * (steps + 3) / 2, "
            f"{len(primitives)}] (one row per edge, one column per primitive). "
            f"Received: {name}.shape={alpha.shape}"
        )
    weights = _softmax(alpha)
    nonzero = [k for k, p in enumerate(primitives) if p != "zero"]
    gene, start = [], 0
    for i in range(steps):
        w = weights[start : start + 2 + i][:, nonzero]
        # Stable sort: ties keep the lower input index, so equal alphas are deterministic.
        edges = sorted(range(2 + i), key=lambda j: -w[j].max())[:2]
        gene += [[primitives[nonzero[int(np.argmax(w[j]))]], int(j)] for j in edges]
        start += 2 + i
    return gene, list(range(2, 2 + steps))


def derive_genotype(alphas_normal, alphas_reduce, primitives=PRIMITIVES):
    """The discrete genotype of continuous architecture weights (top-2 edges per node).

    Args:
        alphas_normal: array `[num_edges, len(primitives)]`: the normal cell's
            architecture weights (before the softmax), edges ordered node by
            node, inputs `0 .. i + 1` of node `i`.
        alphas_reduce: the same for the reduction cell.
        primitives: names of the columns. Defaults to `PRIMITIVES`.

    Returns:
        A genotype dict (see the module docstring).

    Example:

    ```python
    alphas = np.zeros((5, 8))            # 2 nodes: 2 + 3 edges
    alphas[0, 4] = alphas[1, 3] = 1.0    # node 0: sep_conv_3x3 from input 0, skip from 1
    alphas[4, 5] = 2.0                   # node 1: sep_conv_5x5 from node 0 (input 2)
    genotype = derive_genotype(alphas, alphas)
    assert genotype["normal"][:2] == [["sep_conv_3x3", 0], ["skip_connect", 1]]
    assert genotype["normal"][2] == ["sep_conv_5x5", 2]
    ```

    References:
        Liu, Simonyan & Yang, 2019. "DARTS: Differentiable Architecture
        Search", Section 2.4. https://arxiv.org/abs/1806.09055
    """
    primitives = tuple(primitives)
    normal, normal_concat = _derive_cell("alphas_normal", alphas_normal, primitives)
    reduce, reduce_concat = _derive_cell("alphas_reduce", alphas_reduce, primitives)
    return {
        "normal": normal,
        "normal_concat": normal_concat,
        "reduce": reduce,
        "reduce_concat": reduce_concat,
    }


def check_genotype(genotype, name="genotype"):
    """Validates a genotype dict and returns its number of intermediate nodes.

    Raises `ValueError` naming `name` when a key is missing, a node does not
    have two `[op, input]` pairs, an op is unknown or `"zero"`, or an input
    index is not an earlier node.
    """
    if not isinstance(genotype, dict) or not all(k in genotype for k in ("normal", "reduce")):
        raise ValueError(
            f"Argument `{name}` must be a dict with 'normal' and 'reduce' lists of "
            f"[op, input] pairs. Received: {name}={genotype!r}"
        )
    steps = None
    for cell in ("normal", "reduce"):
        gene = genotype[cell]
        if not isinstance(gene, (list, tuple)) or len(gene) == 0 or len(gene) % 2:
            raise ValueError(
                f"Argument `{name}` must hold two [op, input] pairs per node in "
                f"'{cell}'. Received: {name}[{cell!r}]={gene!r}"
            )
        if steps not in (None, len(gene) // 2):
            raise ValueError(
                f"Argument `{name}` must have as many nodes in 'normal' as in 'reduce'. "
                f"Received: {name}={genotype!r}"
            )
        steps = len(gene) // 2
        for k, pair in enumerate(gene):
            ok = isinstance(pair, (list, tuple)) and len(pair) == 2
            op, j = (pair[0], pair[1]) if ok else (None, None)
            if not ok or op not in PRIMITIVES or op == "zero" or not 0 <= int(j) < 2 + k // 2:
                raise ValueError(
                    f"Argument `{name}` has an invalid pair in '{cell}' for node {k // 2}: "
                    f"expected [op, input] with op one of {PRIMITIVES[1:]} and input in "
                    f"[0, {2 + k // 2}). Received: {name}[{cell!r}][{k}]={pair!r}"
                )
        concat = genotype.get(f"{cell}_concat", list(range(2, 2 + steps)))
        if list(concat) != list(range(2, 2 + steps)):
            raise ValueError(
                f"Argument `{name}` must concatenate every intermediate node "
                f"({list(range(2, 2 + steps))}). Received: {name}[{cell + '_concat'!r}]={concat!r}"
            )
    return steps
