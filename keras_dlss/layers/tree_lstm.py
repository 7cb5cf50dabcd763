"""Tree-LSTMs over dependency trees (Tai et al. 2015), batched by tree level.

Tai, Socher & Manning 2015, "Improved Semantic Representations From
Tree-Structured Long Short-Term Memory Networks" (https://arxiv.org/abs/1503.00075):
a node's LSTM state is computed from its input and the states of its
children. Trees are given as CoNLL head arrays (`heads[b, i]` is the 1-based
head of token `i`, 0 for the root), so any batch of dependency trees is one
pair of dense tensors. Nodes are updated level by level, deepest first: one
bounded loop of `T` steps over static shapes, where each step runs the cell on
every node and keeps the result only at the current depth. It compiles with
XLA and differentiates on every backend; children sums are matmuls with the
`[B, T, T]` adjacency matrix.
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int, check_rank, concrete_value


def _check_heads(heads, mask, length):
    """Eager checks: heads in range, one root, no cycles (via node depths)."""
    heads_np = concrete_value(heads)
    if heads_np is None:
        return
    import numpy as np

    heads_np = np.asarray(heads_np)
    valid = np.ones(heads_np.shape, bool) if mask is None else np.asarray(concrete_value(mask))
    if valid is None:
        return
    valid = valid.astype(bool)
    for b in range(heads_np.shape[0]):
        n = int(valid[b].sum())
        if not valid[b, :n].all() or n == 0:
            continue
        row = heads_np[b, :n].astype(int)
        if row.min() < 0 or row.max() > n:
            raise ValueError(
                f"Argument `heads` must hold heads in [0, {n}] (0 = root) for sentence {b}. "
                f"Received: heads[{b}]={row.tolist()}"
            )
        if (row == 0).sum() != 1:
            raise ValueError(
                f"Argument `heads` must have exactly one root (head 0) per sentence. "
                f"Received: heads[{b}]={row.tolist()}"
            )
        for i in range(n):
            node, steps = i, 0
            while row[node] != 0:
                node, steps = row[node] - 1, steps + 1
                if steps > n:
                    raise ValueError(
                        f"Argument `heads` must be a tree (no cycles). Received: "
                        f"heads[{b}]={row.tolist()}"
                    )


def bounded_loop(length, body, init):
    """`fori_loop(0, length, body, init)` that differentiates under XLA on every backend.

    TensorFlow needs `maximum_iterations` for gradients of an XLA while loop;
    JAX's while loop has no reverse mode while its `fori_loop` with static
    bounds lowers to a differentiable scan.
    """
    if keras.config.backend() != "tensorflow":
        return ops.fori_loop(0, length, body, init)
    maximum = length if isinstance(length, int) else None
    _, out = ops.while_loop(
        lambda i, carry: i < length,
        lambda i, carry: (i + 1, body(i, carry)),
        (ops.convert_to_tensor(0, "int32"), init),
        maximum_iterations=maximum,
    )
    return out


def tree_structure(heads, mask=None):
    """`(adjacency [B, T, T], depth [B, T], is_node [B, T])` of batched head arrays.

    `adjacency[b, j, k]` is 1 when token `k` is a child of token `j`; padded
    tokens (mask False) are isolated roots; `depth` is the distance to the root.
    """
    heads = ops.cast(heads, "int32")
    length = heads.shape[1] if heads.shape[1] is not None else ops.shape(heads)[1]
    is_node = ops.ones_like(heads, "bool") if mask is None else ops.cast(mask, "bool")
    heads = ops.where(is_node, heads, 0)
    positions = ops.arange(1, length + 1, dtype="int32")
    adjacency = ops.cast(heads[:, None, :] == positions[None, :, None], "float32")
    parent = ops.maximum(heads - 1, 0)
    is_root = heads == 0

    def body(_, depth):
        return ops.where(is_root, 0, ops.take_along_axis(depth, parent, axis=1) + 1)

    depth = bounded_loop(length, body, ops.zeros_like(heads))
    return adjacency, depth, is_node


class _TreeLSTMBase(keras.layers.Layer):
    def __init__(self, units, return_root=False, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.return_root = bool(return_root)

    def _check_call(self, inputs, heads, mask):
        check_rank("inputs", inputs, 3)
        heads_shape = tuple(heads.shape)
        if len(heads_shape) != 2 or any(
            a is not None and b is not None and int(a) != int(b)
            for a, b in zip(heads_shape, inputs.shape[:2])
        ):
            raise ValueError(
                "Argument `heads` must have shape [B, T] matching `inputs` "
                f"{tuple(inputs.shape[:2])}. Received: heads.shape={heads_shape}"
            )
        _check_heads(heads, mask, inputs.shape[1])

    def call(self, inputs, heads, mask=None):
        self._check_call(inputs, heads, mask)
        x = ops.cast(inputs, self.compute_dtype)
        adjacency, depth, is_node = tree_structure(heads, mask)
        adjacency = ops.cast(adjacency, self.compute_dtype)
        length = x.shape[1] if x.shape[1] is not None else ops.shape(x)[1]
        projected = self._project_inputs(x, adjacency)
        zeros = ops.zeros_like(x[..., :1]) + ops.zeros((self.units,), self.compute_dtype)

        def body(i, carry):
            h, c = carry
            new_h, new_c = self._cell(projected, adjacency, heads, h, c)
            current = (depth == length - 1 - i)[..., None]
            return ops.where(current, new_h, h), ops.where(current, new_c, c)

        h, _ = bounded_loop(length, body, (zeros, zeros))
        h = ops.where(is_node[..., None], h, 0.0)
        if self.return_root:
            root = ops.logical_and(is_node, ops.cast(heads, "int32") == 0)
            return ops.sum(ops.where(root[..., None], h, 0.0), axis=1)
        return h

    def compute_output_shape(self, inputs_shape, heads_shape=None):
        if self.return_root:
            return (inputs_shape[0], self.units)
        return (*inputs_shape[:2], self.units)

    def compute_mask(self, inputs, heads=None, mask=None):
        return None if self.return_root else mask

    def get_config(self):
        return {**super().get_config(), "units": self.units, "return_root": self.return_root}


@keras.saving.register_keras_serializable(package="keras_dlss")
class ChildSumTreeLSTM(_TreeLSTMBase):
    """Child-Sum Tree-LSTM over dependency trees (Tai et al. 2015, eqs. 2-8).

    Each node sums its children's hidden states for the input, output and
    update gates, and has one forget gate per child:
    `f_jk = sigmoid(W_f x_j + U_f h_k + b_f)`, `c_j = i_j * u_j + sum_k f_jk * c_k`.

    Args:
        units: int. Hidden size.
        return_root: bool. Return the root's hidden state `[B, units]` instead
            of every node's `[B, T, units]`. Defaults to `False`.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: `[B, T, D]` float node (token) features.
        heads: `[B, T]` int, 1-based head of each token, 0 for the root
            (CoNLL-U convention); one tree per row.
        mask: optional `[B, T]` bool, False at padding (ignored tokens).

    Returns:
        `[B, T, units]` node states (zero at padding), or `[B, units]`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import ChildSumTreeLSTM

    x = np.random.rand(2, 4, 3).astype("float32")
    heads = np.array([[2, 0, 2, 3], [0, 1, 1, 1]])
    ChildSumTreeLSTM(5, return_root=True)(x, heads).shape  # (2, 5)
    ```

    References:
        - [Tai et al., 2015](https://arxiv.org/abs/1503.00075)
    """

    def build(self, inputs_shape, heads_shape=None):
        d, u = inputs_shape[-1], self.units
        self.kernel = self.add_weight(shape=(d, 4 * u), initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(u, 4 * u), initializer="orthogonal", name="recurrent_kernel"
        )
        self.bias = self.add_weight(shape=(4 * u,), initializer="zeros", name="bias")

    def _project_inputs(self, x, adjacency):
        # Gates iou use the node's own input; the forget gate of child k uses
        # its parent's input, gathered once by the transposed adjacency.
        projected = ops.matmul(x, self.kernel) + self.bias
        iou, f = projected[..., : 3 * self.units], projected[..., 3 * self.units :]
        return iou, ops.matmul(ops.transpose(adjacency, (0, 2, 1)), f)

    def _cell(self, projected, adjacency, heads, h, c):
        iou_x, f_parent = projected
        u = self.units
        recurrent = ops.convert_to_tensor(self.recurrent_kernel)
        h_sum = ops.matmul(adjacency, h)
        iou = iou_x + ops.matmul(h_sum, recurrent[:, : 3 * u])
        i = ops.sigmoid(iou[..., :u])
        o = ops.sigmoid(iou[..., u : 2 * u])
        g = ops.tanh(iou[..., 2 * u :])
        f = ops.sigmoid(f_parent + ops.matmul(h, recurrent[:, 3 * u :]))  # per child
        new_c = i * g + ops.matmul(adjacency, f * c)
        return o * ops.tanh(new_c), new_c


@keras.saving.register_keras_serializable(package="keras_dlss")
class NaryTreeLSTM(_TreeLSTMBase):
    """N-ary Tree-LSTM (Tai et al. 2015, eqs. 9-14) with children in ordered slots.

    Each child occupies one of `num_children` slots with its own recurrent
    weights, so child order matters (Child-Sum ignores it); each slot `l` has
    its own forget gate `f_jl = sigmoid(W_f x_j + sum_l' U_ll' h_jl' + b_f)`.
    A dependency child's slot is its rank among its siblings from left to
    right, capped at `num_children - 1`: children sharing the last slot have
    their states summed (for binary trees, slot 0 and 1 are the left and
    right child, as in the paper).

    Args:
        units: int. Hidden size.
        num_children: int >= 1. Number of child slots `N`. Defaults to `2`.
        return_root: bool. Return the root state `[B, units]`. Defaults to `False`.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: `[B, T, D]` float node features.
        heads: `[B, T]` int, 1-based heads, 0 for the root.
        mask: optional `[B, T]` bool, False at padding.

    Returns:
        `[B, T, units]` node states (zero at padding), or `[B, units]`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import NaryTreeLSTM

    x = np.random.rand(2, 4, 3).astype("float32")
    heads = np.array([[2, 0, 2, 3], [0, 1, 1, 1]])
    NaryTreeLSTM(5, num_children=2)(x, heads).shape  # (2, 4, 5)
    ```

    References:
        - [Tai et al., 2015](https://arxiv.org/abs/1503.00075)
    """

    def __init__(self, units, num_children=2, return_root=False, **kwargs):
        super().__init__(units, return_root=return_root, **kwargs)
        self.num_children = check_positive_int("num_children", num_children)

    def build(self, inputs_shape, heads_shape=None):
        d, u, n = inputs_shape[-1], self.units, self.num_children
        self.kernel = self.add_weight(
            shape=(d, (3 + n) * u), initializer="glorot_uniform", name="kernel"
        )
        self.recurrent_kernel = self.add_weight(
            shape=(n * u, (3 + n) * u), initializer="glorot_uniform", name="recurrent_kernel"
        )
        self.bias = self.add_weight(shape=((3 + n) * u,), initializer="zeros", name="bias")

    def _slots(self, heads):
        heads = ops.cast(heads, "int32")
        length = heads.shape[1] if heads.shape[1] is not None else ops.shape(heads)[1]
        positions = ops.arange(length, dtype="int32")
        earlier = positions[None, :, None] > positions[None, None, :]  # k' < k
        siblings = ops.logical_and(heads[:, :, None] == heads[:, None, :], earlier)
        rank = ops.sum(ops.cast(siblings, "int32"), axis=2)
        slot = ops.minimum(rank, self.num_children - 1)
        return ops.one_hot(slot, self.num_children, dtype=self.compute_dtype)

    def _project_inputs(self, x, adjacency):
        return ops.matmul(x, self.kernel) + self.bias

    def _cell(self, projected, adjacency, heads, h, c):
        u, n = self.units, self.num_children
        slots = self._slots(heads)[..., None]  # [B, T, N, 1]
        length = h.shape[1] if h.shape[1] is not None else ops.shape(h)[1]
        h_slots = ops.matmul(adjacency, ops.reshape(slots * h[:, :, None, :], (-1, length, n * u)))
        c_slots = ops.matmul(adjacency, ops.reshape(slots * c[:, :, None, :], (-1, length, n * u)))
        gates = projected + ops.matmul(h_slots, ops.convert_to_tensor(self.recurrent_kernel))
        i = ops.sigmoid(gates[..., :u])
        o = ops.sigmoid(gates[..., u : 2 * u])
        g = ops.tanh(gates[..., 2 * u : 3 * u])
        f = ops.sigmoid(gates[..., 3 * u :])
        new_c = i * g + ops.sum(ops.reshape(f * c_slots, (-1, length, n, u)), axis=2)
        return o * ops.tanh(new_c), new_c

    def get_config(self):
        return {**super().get_config(), "num_children": self.num_children}
