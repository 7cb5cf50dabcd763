"""Boolean attention masks shared by the attention layers and blocks (internal).

True means "may attend". Relative and absolute (`keras.layers.MultiHeadAttention`)
attention build their masks from the same two pieces, so that a causal,
end-aligned or cached call hides exactly the same keys in both.
"""

from keras import ops


def and_masks(a, b):
    """Logical and of two optional masks as bool (None = everything allowed)."""
    if a is None or b is None:
        return None if a is None and b is None else ops.cast(b if a is None else a, "bool")
    return ops.logical_and(ops.cast(a, "bool"), ops.cast(b, "bool"))


def position_mask(q_len, k_len, q_offset, causal, cached):
    """Bool `[Lq, Lk]` of the keys each query may see by position, or None.

    Query `i` sits at key position `i + q_offset`. Causal: it sees keys up to
    its own position. Cached: keys past the last written position
    (`q_offset + Lq - 1`) hold no data yet and are hidden as well.
    """
    if not (causal or cached):
        return None
    q_pos = ops.arange(q_len, dtype="int32")[:, None] + q_offset
    k_pos = ops.arange(k_len, dtype="int32")[None, :]
    last = q_pos if causal else q_offset + q_len - 1
    return ops.less_equal(k_pos, last)
