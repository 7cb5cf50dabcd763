"""Softmax over segments of a flat array: the normalizer of attention on an edge list.

Graph attention over a sparse graph (Veličković et al. 2018, Eq. 3) normalizes each
node's edge scores over *its own* incoming edges. With the edges flattened to one
axis, the scores of node i are the entries whose segment id is i, and the softmax is

    alpha_k = exp(e_k - m_s) / sum_{k' in s} exp(e_k' - m_s),    s = segment_ids[k],

with m_s the segment's maximum (the usual shift that keeps `exp` finite; it cancels in
the ratio, so no gradient flows through it). Written with `keras.ops.segment_max` and
`segment_sum`, it runs on every backend and under XLA: the number of segments is static
or a scalar tensor, never data-dependent. Empty segments produce nothing.
"""

import keras
from keras import ops

from keras_dlss import _validation as v


def segment_softmax(logits, segment_ids, num_segments, mask=None):
    """Softmax of `logits` within each segment of `segment_ids`.

    Args:
        logits: float tensor `[num_entries, ...]`; trailing axes (e.g. attention
            heads) are normalized independently.
        segment_ids: int tensor `[num_entries]` with values in `[0, num_segments)`;
            need not be sorted.
        num_segments: int (or scalar int tensor). Number of segments.
        mask: optional bool tensor `[num_entries]`; False entries get weight 0
            (padding edges). A segment with no True entry gives zeros, not NaN.

    Returns:
        A tensor shaped like `logits` whose entries sum to 1 over each non-empty
        segment.

    Example:

    ```python
    import numpy as np
    from keras_dlss.ops import segment_softmax

    scores = np.array([1.0, 2.0, 0.5, 3.0], "float32")
    alpha = segment_softmax(scores, np.array([0, 0, 1, 1]), 2)
    # alpha[:2] == softmax([1, 2]), alpha[2:] == softmax([0.5, 3])
    ```

    References:
        Veličković et al. 2018, "Graph Attention Networks", Eq. 3,
        https://arxiv.org/abs/1710.10903
    """
    logits = ops.convert_to_tensor(logits)
    segment_ids = ops.convert_to_tensor(segment_ids)
    if len(logits.shape) < 1:
        raise ValueError(
            "Argument `logits` must have rank >= 1. "
            f"Received: logits.shape={v.shape_str(logits.shape)}"
        )
    v.check_rank("segment_ids", segment_ids, 1)
    v.check_dims_match("segment_ids", segment_ids, 0, logits.shape[0], "logits.shape[0]")
    if isinstance(num_segments, int):
        v.check_positive_int("num_segments", num_segments)
        v.check_ids_in_range("segment_ids", segment_ids, num_segments)
    if "int" not in str(segment_ids.dtype):
        raise ValueError(
            "Argument `segment_ids` must be an integer tensor. "
            f"Received: segment_ids.dtype={segment_ids.dtype}"
        )
    if mask is not None:
        mask = ops.convert_to_tensor(mask, "bool")
        v.check_rank("mask", mask, 1)
        v.check_dims_match("mask", mask, 0, logits.shape[0], "logits.shape[0]")
    return masked_segment_softmax(logits, segment_ids, num_segments, mask)


def masked_segment_softmax(logits, segment_ids, num_segments, mask=None):
    """`segment_softmax` without the boundary checks (internal callers trust their inputs)."""
    if mask is not None:
        mask = ops.reshape(mask, (-1,) + (1,) * (len(logits.shape) - 1))
        # Masked scores are lowered *before* `exp`: a large masked score would overflow to
        # inf, and inf * 0 in the backward pass is NaN even where `where` drops it.
        logits = ops.where(mask, logits, ops.full_like(logits, lowest(logits.dtype)))
    peak = ops.segment_max(logits, segment_ids, num_segments=num_segments)
    # Empty segments hold -inf (JAX, torch) or the lowest float (TF); none is gathered
    # back, but a non-finite value would poison the gradient through `where`.
    peak = ops.stop_gradient(ops.where(ops.isfinite(peak), peak, ops.zeros_like(peak)))
    weights = ops.exp(logits - ops.take(peak, segment_ids, axis=0))
    if mask is not None:
        weights = ops.where(mask, weights, ops.zeros_like(weights))
    total = ops.segment_sum(weights, segment_ids, num_segments=num_segments)
    total = ops.maximum(ops.take(total, segment_ids, axis=0), tiny(logits.dtype))
    return weights / total


# Half of each dtype's lowest value (so `lowest - peak` cannot overflow) and its smallest
# normal number; bfloat16 has float32's exponent range.
_LOWEST = {"float16": -32752.0, "bfloat16": -1.7e38, "float32": -1.7e38, "float64": -8.9e307}
_TINY = {"float16": 6.2e-5, "bfloat16": 1.2e-38, "float32": 1.2e-38, "float64": 2.3e-308}


def lowest(dtype):
    return _LOWEST[keras.backend.standardize_dtype(dtype)]


def tiny(dtype):
    return _TINY[keras.backend.standardize_dtype(dtype)]
