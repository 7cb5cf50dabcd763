"""Best-span decoding for extractive question answering (Seo et al. 2017, Sec. 2.6 and 4).

A span reader predicts `p_start` and `p_end` over the context words; the answer is the span
`(i, j)` with `i <= j < i + L` that maximises `p_start(i) * p_end(j)`. Instead of scoring all
`T^2` pairs, each start is paired with the `L` ends of its window (a `[batch, T, L]` gather),
so memory grows with `T * L` rather than `T^2`, every shape is static given `L`, and one
argmax over the flattened windows decides: no loop, no data-dependent shape (XLA-friendly).
"""

from keras import ops

from keras_dlss._validation import (
    check_dims_match,
    check_mask_shape,
    check_positive_int,
    check_rank,
    static_dim,
)

_NEG = -1e9


def _log_probs(logits, mask):
    logits = ops.cast(logits, "float32")
    if mask is not None:
        logits = ops.where(mask, logits, ops.full_like(logits, _NEG))
    return ops.log_softmax(logits, axis=-1)


def best_span(start_logits, end_logits, mask=None, max_answer_length=None):
    """Most probable answer span `argmax_{i <= j < i + L} p_start(i) p_end(j)`, batched.

    Args:
        start_logits: `[batch, T]` float tensor of start-position logits.
        end_logits: `[batch, T]` float tensor of end-position logits.
        mask: optional `[batch, T]` bool tensor, True on real context words; padding is
            never part of a span (the softmaxes exclude it).
        max_answer_length: int or None. `L`, the most words a span may have (SQuAD readers
            use 15 to 30). None allows any `j >= i`. Defaults to `None`.

    Returns:
        Tuple `(start, end, probability)`: `[batch]` int32 start and end word indices
        (inclusive, `start <= end < start + L`) and the `[batch]` float32
        `p_start(start) * p_end(end)`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.decoding import best_span

    start = np.log(np.array([[0.1, 0.6, 0.2, 0.1]], "float32"))
    end = np.log(np.array([[0.5, 0.1, 0.1, 0.3]], "float32"))
    s, e, p = best_span(start, end, max_answer_length=3)
    print(int(s[0]), int(e[0]), round(float(p[0]), 2))   # 1 3 0.18 (beats (0, 0) at 0.05)
    ```

    References:
        Seo et al. 2017, "Bidirectional Attention Flow for Machine Comprehension",
        https://arxiv.org/abs/1611.01603.
    """
    start_logits = ops.convert_to_tensor(start_logits)
    end_logits = ops.convert_to_tensor(end_logits)
    check_rank("start_logits", start_logits, 2)
    check_rank("end_logits", end_logits, 2)
    for axis in (0, 1):
        check_dims_match("end_logits", end_logits, axis, start_logits.shape[axis], "`start_logits`")
    if mask is not None:
        mask = ops.cast(ops.convert_to_tensor(mask), "bool")
        check_mask_shape("mask", mask, "start_logits", start_logits)
    steps = static_dim(start_logits.shape[1])
    if max_answer_length is not None:
        window = check_positive_int("max_answer_length", max_answer_length)
        if steps is not None:
            window = min(window, steps)
    else:
        window = steps if steps is not None else ops.shape(start_logits)[1]
    log_start = _log_probs(start_logits, mask)
    log_end = _log_probs(end_logits, mask)
    length = steps if steps is not None else ops.shape(start_logits)[1]
    # ends[i, k] = i + k: the window of ends paired with start i.
    ends = ops.expand_dims(ops.arange(length, dtype="int32"), 1) + ops.expand_dims(
        ops.arange(window, dtype="int32"), 0
    )
    inside = ends < length
    windowed = ops.take(log_end, ops.minimum(ends, length - 1), axis=1)  # [batch, T, L]
    scores = ops.expand_dims(log_start, 2) + windowed
    scores = ops.where(ops.expand_dims(inside, 0), scores, ops.full_like(scores, 2 * _NEG))
    if steps is not None:
        flat = ops.reshape(scores, (-1, steps * window))
    else:  # unknown T (a traced graph): the batch size is then a tensor
        flat = ops.reshape(scores, (ops.shape(scores)[0], -1))
    best = ops.cast(ops.argmax(flat, axis=-1), "int32")
    start = best // window
    end = start + best % window
    score = ops.take_along_axis(flat, ops.expand_dims(best, 1), axis=1)[:, 0]
    return start, end, ops.exp(score)
