"""Branch-free per-row tensor steps of the stack-LSTM parse loop (`stack_lstm_parser`).

Every sentence of a padded batch takes its own action at each step of one
bounded loop, so reads and writes at a per-row position are one-hot
contractions and blends rather than gathers and scatters: a gather from a
variable has no XLA kernel on TensorFlow, and a blend keeps every shape static.
The loop picks actions with `ops.crf_parallel.first_argmax`, not `ops.argmax`,
which tf2onnx cannot convert inside a loop (PITFALLS), so the exported greedy
decoder converts to ONNX.
"""

from keras import ops


def one_hot(index, depth, dtype="float32"):
    """Rows of zeros where `index` is out of range (unlike torch's `one_hot`)."""
    return ops.cast(ops.equal(ops.arange(depth)[None, :], ops.cast(index, "int32")[:, None]), dtype)


def take(x, index):
    """`x[b, index[b]]` for `x` `[B, P, d]`, as a one-hot matmul (zeros out of range)."""
    return ops.einsum("bp,bpd->bd", one_hot(index, ops.shape(x)[1], x.dtype), x)


def take_int(x, index):
    """`x[b, index[b]]` for an int `x` `[B, P]` (0 out of range)."""
    return ops.sum(x * one_hot(index, ops.shape(x)[1], x.dtype), axis=1)


def write(x, index, value, where):
    """`x[b, index[b]] = value[b]` where `where[b]`, as a one-hot blend."""
    mask = one_hot(index, ops.shape(x)[1], x.dtype) * ops.cast(where, x.dtype)[:, None]
    if len(x.shape) == 3:
        mask = mask[:, :, None]
        value = value[:, None, :]
    else:
        value = value[:, None]
    return x * (1 - mask) + ops.cast(value, x.dtype) * mask


def legal_actions(size, front, lengths, system):
    """`[B, 3]` bool: the legal SHIFT / LEFT_ARC / RIGHT_ARC of each row (see `Configuration`).

    `size` counts the stack's items including the root, `front` is the buffer's
    first word (1-based; `lengths + 1` when the buffer is empty).
    """
    buffer = ops.less_equal(front, lengths)
    if system == "arc-standard":
        left = ops.greater(size, 2)
    else:
        left = ops.logical_and(ops.greater(size, 1), buffer)
    right = ops.logical_or(
        ops.greater(size, 2), ops.logical_and(ops.equal(size, 2), ops.logical_not(buffer))
    )
    return ops.stack([buffer, left, right], axis=1)
