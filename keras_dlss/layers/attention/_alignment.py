"""Alignment helpers shared by the attention mechanisms (internal)."""

import keras
from keras import ops


class AttentionMechanism(keras.layers.Layer):
    """Base of content-based attention: subclasses define `process_memory` and `align`.

    `call(query, memory, memory_mask)` returns `(context [B, depth], alignments [B, T])`.
    """

    def call(self, query, memory, memory_mask=None):
        alignments = self.align(query, self.process_memory(memory), memory_mask)
        return context_vector(alignments, ops.cast(memory, self.compute_dtype)), alignments

    def compute_output_shape(self, query_shape, memory_shape, memory_mask_shape=None):
        return (query_shape[0], memory_shape[-1]), (query_shape[0], memory_shape[1])


def masked_softmax(scores, memory_mask=None):
    """Softmax over the last axis with masked positions given exactly zero weight.

    Masked scores are replaced by a large negative number before the softmax
    (so the kept weights renormalize) and the result is multiplied by the mask
    afterwards, which makes masked weights exactly zero even when a whole row
    is masked (the row is then all zeros instead of NaN).
    """
    if memory_mask is None:
        return ops.softmax(scores, axis=-1)
    mask = ops.cast(memory_mask, "bool")
    floor = -1e4 if scores.dtype == "float16" else -1e9
    weights = ops.softmax(ops.where(mask, scores, floor), axis=-1)
    return weights * ops.cast(mask, weights.dtype)


def context_vector(alignments, memory):
    """sum_t alignments[b, t] * memory[b, t, :] -> [B, depth]."""
    return ops.einsum("bt,btd->bd", alignments, memory)


def check_memory_shapes(layer_name, query_shape, memory_shape):
    if len(query_shape) != 2:
        raise ValueError(
            f"{layer_name}: argument `query` must have rank 2 ([batch, query_depth]). "
            f"Received: query.shape={tuple(query_shape)}"
        )
    if len(memory_shape) != 3:
        raise ValueError(
            f"{layer_name}: argument `memory` must have rank 3 ([batch, time, depth]). "
            f"Received: memory.shape={tuple(memory_shape)}"
        )
