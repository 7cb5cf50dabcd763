"""Semiring algebra and the O(log T)-depth tree scans behind the linear-chain CRF.

A linear-chain CRF's forward recursion is a chain of vector-matrix products
in a semiring: log-sum-exp/plus for the partition function and marginals,
max/plus for Viterbi. Because the product is associative, the whole chain can
be evaluated as a balanced tree of matrix-matrix products whose depth is
``ceil(log2(T))`` (Blelloch's up-sweep/down-sweep prefix scan), trading
O(T K^2) work for O(T K^3) work with O(log T) sequential depth.

`keras.ops.associative_scan` would express this directly, but on the
TensorFlow backend it recurses forever inside `tf.function` (keras#22058), so
the levels are a static Python loop over static shapes.

References:
    - Blelloch, "Prefix Sums and Their Applications", 1990.
    - Särkkä & García-Fernández, "Temporal Parallelization of Bayesian
      Smoothers", IEEE TAC 2021 (https://arxiv.org/abs/1905.13002).
"""

import keras
import numpy as np
from keras import ops

# Finite stand-in for log(0): exp() underflows to exactly 0 and sums of a
# few of them stay far from overflow in float32.
NEG = -1e4


def _log_tiny(dtype):
    """Smallest normal number of `dtype`: clamps log(0) to a finite value.

    Without the clamp, an underflowed sum gives log(0) = -inf and a NaN
    gradient (inf * 0) on the backward pass.
    """
    return float(np.finfo(np.dtype(keras.backend.standardize_dtype(dtype))).tiny)


def log_matvec(alpha, exp_matrix, col_shift):
    """`log(sum_i exp(alpha[b, i] + M[i, j]))` as a max-shifted exp-space matmul.

    Args:
        alpha: `[B, K]` log-space vector.
        exp_matrix: `[K, K]` `exp(M - col_shift)`, precomputed once per sequence.
        col_shift: `[K]` column maxima of `M`.

    XLA runs this dense matmul far faster than the broadcast log-sum-exp.
    """
    m = ops.max(alpha, axis=-1, keepdims=True)
    s = ops.matmul(ops.exp(alpha - m), exp_matrix)
    return ops.log(ops.maximum(s, _log_tiny(s.dtype))) + m + col_shift


def log_matmul(a, b):
    """Batched log-space matrix product `log(exp(a) @ exp(b))`, max-shifted."""
    row = ops.max(a, axis=-1, keepdims=True)
    col = ops.max(b, axis=-2, keepdims=True)
    s = ops.matmul(ops.exp(a - row), ops.exp(b - col))
    return ops.log(ops.maximum(s, _log_tiny(s.dtype))) + row + col


def log_vecmat(v, m):
    """`[..., K] x [..., K, K]` log-sum-exp vector-matrix product."""
    return ops.squeeze(log_matmul(ops.expand_dims(v, -2), m), -2)


def max_vecmat(v, m):
    """`[..., K] x [..., K, K]` max-plus vector-matrix product."""
    return ops.max(ops.expand_dims(v, -1) + m, axis=-2)


def max_matmul(a, b, chunk=8):
    """Batched max-plus matrix product, chunked over the inner axis for memory."""
    k = a.shape[-1]
    out = None
    for lo in range(0, k, chunk):
        part = ops.max(
            ops.expand_dims(a[..., lo : lo + chunk], -1)
            + ops.expand_dims(b[..., lo : lo + chunk, :], -3),
            axis=-2,
        )
        out = part if out is None else ops.maximum(out, part)
    return out


def first_argmax(x, axis=-1):
    """Index of the first maximum along `axis`, as int32.

    Built from `max` and `min` instead of `ops.argmax`, whose TensorFlow
    lowering uses bit tricks (`Bitcast`) that tf2onnx cannot export.
    """
    k = x.shape[axis]
    mx = ops.max(x, axis=axis, keepdims=True)
    shape = [1] * len(x.shape)
    shape[axis] = k
    iota = ops.reshape(ops.arange(k, dtype="int32"), shape)
    idx = ops.min(ops.where(x == mx, iota, k), axis=axis)
    return ops.minimum(idx, k - 1)  # all-NaN rows would give k


def identity_matrices(batch_shape, num_tags, dtype):
    """Log-space identities (0 on the diagonal, NEG elsewhere), shape `batch_shape + [K, K]`."""
    eye = ops.eye(num_tags, dtype=dtype)
    ident = (1.0 - eye) * NEG
    return ops.broadcast_to(ident, tuple(batch_shape) + (num_tags, num_tags))


def _pad_to_power_of_two(mats):
    """Pads `[B, n, K, K]` with identities to `[B, 2^L, K, K]`; returns (mats, L)."""
    n, k = mats.shape[1], mats.shape[-1]
    levels = max(0, int(np.ceil(np.log2(n)))) if n > 1 else 0
    size = 2**levels
    if size > n:
        pad = identity_matrices((ops.shape(mats)[0], size - n), k, mats.dtype)
        mats = ops.concatenate([mats, pad], axis=1)
    return mats, levels


def _pair_products(mats, matmul):
    """Products of adjacent pairs: `[B, 2m, K, K] -> [B, m, K, K]`."""
    return matmul(mats[:, 0::2], mats[:, 1::2])


def up_sweep(mats, matmul):
    """Block products of a balanced tree over `[B, n, K, K]` (static `n >= 1`).

    Returns a list whose entry `l` holds the `2^(L-l)` products of `2^l`
    consecutive matrices each, `L = ceil(log2(n))` (identities pad `n` to a
    power of two). The root is never needed, so the list stops below it.
    """
    mats, levels = _pad_to_power_of_two(mats)
    tree = [mats]
    for _ in range(levels - 1):
        tree.append(_pair_products(tree[-1], matmul))
    return tree


def _levels(tree):
    return int(np.log2(tree[0].shape[1]))


def _interleave(first, second):
    """`[B, m, K]`, `[B, m, K]` -> `[B, 2m, K]` as first[0], second[0], first[1], ..."""
    both = ops.stack([first, second], axis=2)
    return ops.reshape(both, (ops.shape(both)[0], -1, both.shape[-1]))


def down_sweep_prefix(v0, tree, vecmat, n):
    """Inclusive prefixes `v0 (x) M_1 (x) ... (x) M_t` for t = 1..n, `[B, n, K]` (Blelloch).

    Exclusive-prefix *vectors* travel down the tree (K^2 per node): a right
    child's prefix is its parent's times its left sibling's block product.
    """
    excl = ops.expand_dims(v0, 1)  # [B, 1, K]: exclusive prefix of the root
    for level in reversed(range(_levels(tree))):
        excl = _interleave(excl, vecmat(excl, tree[level][:, 0::2]))
    return vecmat(excl, tree[0])[:, :n]


def down_sweep_suffix(v_last, tree, vecmat, n):
    """Inclusive suffixes `M_t (x) ... (x) M_n (x) v_last` for t = 1..n, `[B, n, K]`.

    The mirror of `down_sweep_prefix` over the same block products: a left
    child's suffix is its right sibling's block times its parent's suffix.
    """

    def matvec(m, v):
        return vecmat(v, ops.swapaxes(m, -1, -2))

    excl = ops.expand_dims(v_last, 1)
    for level in reversed(range(_levels(tree))):
        excl = _interleave(matvec(tree[level][:, 1::2], excl), excl)
    return matvec(tree[0], excl)[:, :n]


def tree_prefix(v0, mats, matmul, vecmat):
    """Inclusive prefixes `v0 (x) M_1 (x) ... (x) M_t` for t = 1..n, `[B, n, K]`.

    The up-sweep builds block products (matrix-matrix, K^3 each); the
    down-sweep pushes vectors (K^2 each), so only log2(n) products are ever
    chained.
    """
    tree = up_sweep(mats, matmul)
    return down_sweep_prefix(v0, tree, vecmat, mats.shape[1])


def suffix_compose(pointers):
    """Pointer jumping: `F_k = G_k o G_{k+1} o ... o G_{n-1}` for maps `G_k: [K] -> [K]`.

    Args:
        pointers: `[B, n, K]` int32, `G_k[j]`.

    Returns:
        `[B, n, K]` int32 compositions, in ceil(log2(n)) gather levels.
    """
    n, k = pointers.shape[1], pointers.shape[2]
    ident = ops.broadcast_to(ops.arange(k, dtype="int32"), ops.shape(pointers))
    shift = 1
    while shift < n:
        later = ops.concatenate([pointers[:, shift:], ident[:, :shift]], axis=1)
        pointers = ops.take_along_axis(pointers, later, axis=-1)
        shift *= 2
    return pointers


# ----------------------------------------------------------------------------- CRF recursions


def step_matrices(emissions, transitions, mask):
    """`M_t[i, j] = A[i, j] + e_t[j]` for t >= 1, identities at padded steps: `[B, T-1, K, K]`."""
    k = emissions.shape[-1]
    mats = ops.expand_dims(transitions, 0) + ops.expand_dims(emissions[:, 1:], 2)
    ident = identity_matrices((1, 1), k, emissions.dtype)
    return ops.where(mask[:, 1:, None, None], mats, ident)


def forward_backward(emissions, transitions, mask, start, end):
    """Alphas and betas `[B, T, K]` from one up-sweep shared by both down-sweeps.

    `beta_t = M_{t+1} (x) ... (x) M_{T-1} (x) end` is a suffix of the same
    chain whose prefixes give the alphas, so one tree of block products
    (the O(T K^3) part) serves both directions.
    """
    alpha0 = start + emissions[:, 0]
    beta_last = ops.broadcast_to(end, ops.shape(alpha0))
    n = emissions.shape[1] - 1
    if n == 0:
        return alpha0[:, None], beta_last[:, None]
    tree = up_sweep(step_matrices(emissions, transitions, mask), log_matmul)
    alphas = down_sweep_prefix(alpha0, tree, log_vecmat, n)
    betas = down_sweep_suffix(beta_last, tree, log_vecmat, n)
    return (
        ops.concatenate([alpha0[:, None], alphas], axis=1),
        ops.concatenate([betas, beta_last[:, None]], axis=1),
    )


def viterbi(emissions, transitions, mask, start, end):
    delta0 = start + emissions[:, 0]
    mats = step_matrices(emissions, transitions, mask)  # [B, T-1, K, K]
    deltas = tree_prefix(delta0, mats, max_matmul, max_vecmat)
    previous = ops.concatenate([delta0[:, None], deltas[:, :-1]], axis=1)
    backs = first_argmax(ops.expand_dims(previous, -1) + mats, axis=-2)  # [B, T-1, K]
    final = deltas[:, -1] + end
    last_tag = first_argmax(final)
    paths = suffix_compose(backs)  # paths[:, t][j]: tag at t given tag j at T-1
    earlier = ops.take_along_axis(
        paths, ops.broadcast_to(last_tag[:, None, None], ops.shape(paths)[:2] + (1,)), axis=-1
    )
    return ops.concatenate([earlier[..., 0], last_tag[:, None]], axis=1), ops.max(final, axis=-1)
