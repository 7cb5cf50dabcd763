"""Coverage of the source by the attention, and the coverage loss.

See et al. 2017 ("Get To The Point", https://arxiv.org/abs/1704.04368,
section 2.3): the coverage vector of decoder step t is the sum of the
attention distributions of the previous steps,

    c_t = sum_{t' < t} a_t'        (c_0 = 0),

which the attention scorer sees as a feature (eq. 11,
`e_ti = v^T tanh(W_h h_i + W_s s_t + w_c c_ti + b)`, in
`PointerGeneratorTranslator(coverage=True)`), and the coverage loss
penalizes attending again to what is already covered (eq. 12),

    covloss_t = sum_i min(a_ti, c_ti),

bounded by 1 per step. A decoder that keeps copying the same source word
pays for it; one that moves on pays nothing.
"""

from keras import ops

from keras_dlss._validation import check_dims_match, check_dtype_kind, check_rank


def _checked(attention, mask):
    attention = ops.convert_to_tensor(attention)
    check_rank("attention", attention, 3)
    check_dtype_kind("attention", attention, "floating")
    if mask is None:
        return attention
    mask = ops.convert_to_tensor(mask)
    check_rank("mask", mask, 2)
    check_dims_match("mask", mask, 0, attention.shape[0], "the batch size of `attention`")
    check_dims_match("mask", mask, 1, attention.shape[-1], "the source length of `attention`")
    # Padding never gains coverage, even from an attention that leaked onto it.
    return attention * ops.cast(mask, attention.dtype)[:, None, :]


def _exclusive_cumsum(attention):
    """`sum_{t' < t} a_t'` as a strictly lower-triangular matmul over the T steps.

    Not `ops.cumsum`: Keras 3.15's cumsum returns float32 for float64 inputs on
    torch (keras-team/keras#23223), which the float64 gradient check catches.
    T is the decoder length (tens of steps), so the T x T matrix is cheap.
    """
    steps = ops.shape(attention)[1]
    lower = ops.tril(ops.ones((steps, steps), attention.dtype), k=-1)
    return ops.einsum("ts,bsi->bti", lower, attention)


def coverage_vectors(attention, mask=None):
    """Coverage `c_t = sum_{t' < t} a_t'` of every decoder step (`c_0 = 0`).

    Args:
        attention: `[B, T, S]` attention distributions of T decoder steps over
            S source positions.
        mask: optional `[B, S]`, 1 for real source positions; masked positions
            keep zero coverage.

    Returns:
        `[B, T, S]` coverage vectors, in the dtype of `attention`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.ops import coverage_vectors

    attention = np.array([[[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]], "float32")
    print(np.asarray(coverage_vectors(attention)).round(2).tolist())
    # [[[0.0, 0.0], [0.9, 0.1], [1.5, 0.5]]]
    ```

    Reference:
        - [See et al., 2017](https://arxiv.org/abs/1704.04368), eq. 10
    """
    attention = _checked(attention, mask)
    # Exclusive running sum: the step's own attention is not yet covered.
    return _exclusive_cumsum(attention)


def coverage_loss(attention, mask=None):
    """Per-step coverage loss `sum_i min(a_ti, c_ti)` (See et al. eq. 12).

    Args:
        attention: `[B, T, S]` attention distributions of T decoder steps.
        mask: optional `[B, S]`, 1 for real source positions.

    Returns:
        `[B, T]` losses, each in `[0, 1]` for normalized attention (0 at
        step 0, and whenever a step attends only to uncovered positions).
        Average it over the real target steps and add it to the NLL with a
        weight (the paper's lambda is 1).

    Example:

    ```python
    import numpy as np
    from keras_dlss.ops import coverage_loss

    again = np.array([[[1.0, 0.0], [1.0, 0.0]]], "float32")    # copies position 0 twice
    moves_on = np.array([[[1.0, 0.0], [0.0, 1.0]]], "float32")
    print(np.asarray(coverage_loss(again)), np.asarray(coverage_loss(moves_on)))
    # [[0. 1.]] [[0. 0.]]
    ```

    Reference:
        - [See et al., 2017](https://arxiv.org/abs/1704.04368), eq. 12
    """
    attention = _checked(attention, mask)
    coverage = _exclusive_cumsum(attention)
    # `ops.where`, not `ops.minimum`: Keras 3.15's minimum returns float32 for
    # float64 inputs on torch (see final_distribution).
    return ops.sum(ops.where(attention < coverage, attention, coverage), axis=-1)


__all__ = ["coverage_loss", "coverage_vectors"]
