"""Alignment helpers shared by the attention mechanisms (internal)."""

import keras
from keras import ops

from keras_dlss._validation import (
    check_dims_match,
    check_dtype_kind,
    check_mask_shape,
    check_rank,
)

CALL_CONVENTION = """
    The call also takes Keras's `AdditiveAttention` / `Attention` form,
    `attention([query, memory], mask=[None, memory_mask])`. Deliberate
    differences from those layers: the query is one decoder step
    `[B, query_depth]` (not `[B, Tq, dim]`), as `AttentionWrapper` queries it
    once per step; the result is always `(context, alignments)` (Keras returns
    the scores only with `return_attention_scores=True`); there is no
    separate `key` (the keys are `process_memory(memory)`) and no
    `use_causal_mask`. A query mask is accepted in `mask` and ignored (a
    single query has no time axis).
"""


def _unpack(query, memory, memory_mask, mask):
    """Resolves the Keras list form (`[query, value]`, `mask=[query_mask, value_mask]`)."""
    if isinstance(query, (list, tuple)):
        if memory is not None or len(query) != 2:
            raise ValueError(
                "Argument `inputs` must be `[query, memory]` (two tensors) when passed as a "
                f"list, with no separate `memory`. Received: a list of {len(query)} tensors"
                + ("" if memory is None else " and memory")
            )
        query, memory = query
    if mask is not None:
        if not isinstance(mask, (list, tuple)) or len(mask) != 2:
            raise ValueError(
                "Argument `mask` must be a list `[query_mask, memory_mask]`, as in "
                f"`keras.layers.AdditiveAttention`. Received: mask={mask!r}"
            )
        if mask[1] is not None and memory_mask is not None:
            raise ValueError(
                "Arguments `memory_mask` and `mask` both give the memory mask; pass one. "
                "Received: both"
            )
        if memory_mask is None and mask[1] is not None:
            return query, memory, mask[1], "mask"
    return query, memory, memory_mask, "memory_mask"


class AttentionMechanism(keras.layers.Layer):
    """Base of content-based attention: subclasses define `process_memory` and `align`.

    `call(query, memory, memory_mask)` returns `(context [B, depth], alignments [B, T])`.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Consumes the memory's Keras mask (as `memory_mask`) without a warning.
        self.supports_masking = True

    def compute_mask(self, *args, **kwargs):
        return None

    def _validate(self, query, memory, memory_mask, mask_name="memory_mask"):
        if memory is None:
            raise ValueError(
                f"{type(self).__name__}: argument `memory` is required. Received: memory=None"
            )
        check_rank("query", query, 2)
        check_dtype_kind("query", query, "floating")
        check_rank("memory", memory, 3)
        check_dtype_kind("memory", memory, "floating")
        check_dims_match("memory", memory, 0, query.shape[0], "the batch size of `query`")
        built = getattr(self, "_depths", None)
        if built is not None:
            check_dims_match("query", query, -1, built[0], "the depth it was built with")
            check_dims_match("memory", memory, -1, built[1], "the depth it was built with")
        check_mask_shape(mask_name, memory_mask, "memory", memory)

    def call(self, query, memory=None, memory_mask=None, mask=None):
        query, memory, memory_mask, mask_name = _unpack(query, memory, memory_mask, mask)
        self._validate(query, memory, memory_mask, mask_name)
        alignments = self.align(query, self.process_memory(memory), memory_mask)
        return context_vector(alignments, ops.cast(memory, self.compute_dtype)), alignments

    def compute_output_spec(self, query, memory=None, memory_mask=None, mask=None):
        query, memory, memory_mask, mask_name = _unpack(query, memory, memory_mask, mask)
        self._validate(query, memory, memory_mask, mask_name)
        context, alignments = self.compute_output_shape(query.shape, memory.shape)
        return (
            keras.KerasTensor(context, dtype=self.compute_dtype),
            keras.KerasTensor(alignments, dtype=self.compute_dtype),
        )

    def compute_output_shape(self, query_shape, memory_shape=None, memory_mask_shape=None):
        query_shape, memory_shape = unpack_shapes(query_shape, memory_shape)
        return (query_shape[0], memory_shape[-1]), (query_shape[0], memory_shape[1])


def unpack_shapes(query_shape, memory_shape):
    """`(query_shape, memory_shape)` from a build/shape call, list form included."""
    # A shape starts with an int or None; the list form starts with a shape.
    if memory_shape is None and query_shape and isinstance(query_shape[0], (list, tuple)):
        if len(query_shape) != 2:
            raise ValueError(
                "Argument `inputs` must be `[query, memory]` (two tensors) when passed as a "
                f"list. Received: a list of {len(query_shape)} shapes"
            )
        query_shape, memory_shape = query_shape
    return query_shape, memory_shape


def add_additive_weights(layer, query_depth, memory_depth):
    """Creates `W_q` (`query_kernel`), `W_m` (`memory_kernel`) and `v` (`score_vector`).

    The weights of additive scoring `v^T tanh(W_q q + W_m m)` (Bahdanau attention, pointer
    attention), with `layer.units` hidden units and `layer.kernel_initializer`.
    """
    init, units = layer.kernel_initializer, layer.units
    layer.query_kernel = layer.add_weight(
        name="query_kernel", shape=(query_depth, units), initializer=init
    )
    layer.memory_kernel = layer.add_weight(
        name="memory_kernel", shape=(memory_depth, units), initializer=init
    )
    layer.score_vector = layer.add_weight(name="score_vector", shape=(units,), initializer=init)


def additive_keys(layer, memory):
    """Memory keys `W_m m` (`[B, T, units]`): computed once per sequence."""
    memory = ops.cast(memory, layer.compute_dtype)
    return ops.matmul(memory, ops.cast(layer.memory_kernel, layer.compute_dtype))


def additive_scores(layer, query, keys, v=None, bias=None):
    """`v^T tanh(W_q q + keys [+ bias])`: `[B, T]` for a `[B, d]` query, `[B, Tq, T]` for `[B, Tq, d]`.

    `v` and `bias` override the layer's score vector and add a bias inside the tanh (weight
    normalization); both are already cast to the compute dtype.
    """
    dtype = layer.compute_dtype
    projected = ops.matmul(ops.cast(query, dtype), ops.cast(layer.query_kernel, dtype))
    if len(query.shape) == 3:
        hidden = keys[:, None, :, :] + projected[:, :, None, :]
    else:
        hidden = keys + projected[:, None, :]
    if bias is not None:
        hidden = hidden + bias
    v = ops.cast(layer.score_vector, dtype) if v is None else v
    return ops.sum(ops.tanh(hidden) * v, axis=-1)


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
    if memory_shape is None:
        raise ValueError(
            f"{layer_name} needs the memory shape to build. Call it as "
            "`attention(query, memory)`. Received: memory_shape=None"
        )
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
