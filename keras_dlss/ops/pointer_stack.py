"""A static-shape pointer stack: batched push, pop and peek that compile with XLA.

The stack LSTM of Dyer et al. (2015) never deletes a state: it keeps every
state it computed and moves a pointer. Popping moves the pointer down;
pushing computes the new state from the one under the pointer and writes it
just above. Here the stack is a `[B, capacity, ...]` tensor and a `[B]` int
`size` per row (the top is at `size - 1`), and each operation takes a `[B]`
boolean `where` saying which rows act: one batched, branch-free update per
step, so a whole parse is a fixed-shape `keras.ops` loop that XLA compiles,
with every sentence of the batch taking its own action.

Writes are one-hot blends (`memory * (1 - m) + values * m`), not scatters: a
scatter into a tensor with a data-dependent index is what XLA's CPU backend
handles worst, and the blend costs one pass over a small `[B, capacity, d]`
array. Pushing onto a full stack leaves it unchanged and popping an empty one
keeps `size` at 0; callers rule both out (a transition system's legal
actions do).

References:
    - Dyer, Ballesteros, Ling, Matthews & Smith, "Transition-Based Dependency
      Parsing with Stack Long Short-Term Memory", ACL 2015, Section 2.1
      (https://arxiv.org/abs/1505.08075).
"""

from keras import ops

from keras_dlss import _validation as v


def _check(memory, size, where=None):
    v.check_min_rank("memory", memory, 2)
    v.check_rank("size", size, 1)
    v.check_dims_match("size", size, 0, memory.shape[0], "the batch size of `memory`")
    v.check_dtype_kind("size", size, "integer")
    if where is not None:
        v.check_rank("where", where, 1)
        v.check_dims_match("where", where, 0, memory.shape[0], "the batch size of `memory`")


def _row_mask(size, capacity, dtype):
    """`[B, capacity]` one-hot of position `size` per row (all zeros when `size` is out of range)."""
    return ops.cast(
        ops.equal(ops.arange(capacity)[None, :], ops.cast(size, "int32")[:, None]), dtype
    )


def _expand(mask, rank):
    # expand_dims, not reshape: the batch size may be unknown while tracing.
    for _ in range(rank - 2):
        mask = ops.expand_dims(mask, -1)
    return mask


def stack_push(memory, size, values, where):
    """Pushes `values[b]` onto row `b` of the stack wherever `where[b]` is True.

    Args:
        memory: `[B, capacity, ...]` float tensor, the stack storage.
        size: `[B]` int tensor, the number of items on each row's stack.
        values: `[B, ...]` tensor, one item per row (the shape of `memory[:, 0]`).
        where: `[B]` bool tensor, the rows that push.

    Returns:
        `(memory, size)` after the push.

    Example:

    ```pycon
    >>> memory, size = np.zeros((2, 3, 1), "float32"), np.array([0, 2], "int32")
    >>> memory, size = stack_push(memory, size, np.array([[5.0], [7.0]], "float32"),
    ...                           np.array([True, False]))
    >>> ops.convert_to_numpy(size).tolist(), ops.convert_to_numpy(stack_top(memory, size)).tolist()
    [[1, 2], [[5.0], [0.0]]]
    ```
    """
    _check(memory, size, where)
    if tuple(values.shape[1:]) != tuple(memory.shape[2:]) and None not in values.shape[1:]:
        raise ValueError(
            f"Argument `values` must have shape [B, {', '.join(map(str, memory.shape[2:]))}]. "
            f"Received: values.shape={tuple(values.shape)}"
        )
    # NumPy `memory`/`size` mixed with torch tensors is a TypeError on the torch backend.
    memory, size = ops.convert_to_tensor(memory), ops.convert_to_tensor(size)
    capacity = ops.shape(memory)[1]  # may be unknown while tracing
    act = ops.logical_and(ops.cast(where, "bool"), ops.less(size, capacity))
    mask = _row_mask(size, capacity, memory.dtype) * ops.cast(act, memory.dtype)[:, None]
    mask = _expand(mask, len(memory.shape))
    values = ops.cast(values, memory.dtype)[:, None]
    memory = memory * (1 - mask) + values * mask
    return memory, size + ops.cast(act, size.dtype)


def stack_pop(size, where):
    """Pops row `b`'s top wherever `where[b]` is True: only the pointer moves, as in a stack LSTM.

    Args:
        size: `[B]` int tensor, the number of items on each row's stack.
        where: `[B]` bool tensor, the rows that pop.

    Returns:
        The new `[B]` size (never below 0).

    Example:

    ```pycon
    >>> ops.convert_to_numpy(stack_pop(np.array([2, 0]), np.array([True, True]))).tolist()
    [1, 0]
    ```
    """
    v.check_rank("size", size, 1)
    v.check_dtype_kind("size", size, "integer")
    v.check_rank("where", where, 1)
    v.check_dims_match("where", where, 0, size.shape[0], "the batch size of `size`")
    act = ops.logical_and(ops.cast(where, "bool"), ops.greater(size, 0))
    return size - ops.cast(act, size.dtype)


def stack_top(memory, size, depth=0):
    """The item `depth` below the top of each row (`depth=0`: the top); zeros where there is none.

    Args:
        memory: `[B, capacity, ...]` tensor.
        size: `[B]` int tensor.
        depth: int >= 0. Defaults to 0.

    Returns:
        `[B, ...]` tensor.

    Example:

    ```pycon
    >>> memory = np.arange(6, dtype="float32").reshape(2, 3)
    >>> ops.convert_to_numpy(stack_top(memory, np.array([2, 3]), depth=1)).tolist()
    [0.0, 4.0]
    ```
    """
    _check(memory, size)
    depth = v.check_positive_int("depth", depth, 0)
    capacity = ops.shape(memory)[1]
    mask = _expand(_row_mask(size - 1 - depth, capacity, memory.dtype), len(memory.shape))
    return ops.sum(memory * mask, axis=1)
