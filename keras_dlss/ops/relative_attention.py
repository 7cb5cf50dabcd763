"""Relative position logits with the memory-efficient "skewing" algorithm.

Self-attention with relative position representations (Shaw et al., 2018)
adds to each content logit `q_i . k_j` a term `q_i . e_(j - i)` that depends
only on the distance between key and query. Computed naively, this term
gathers an `[L, L, D]` tensor of embeddings (`O(L^2 D)` memory). The Music
Transformer (Huang et al., 2018, section 3.4.1) instead multiplies the queries
by the `2L - 1` distance embeddings once (`[L, 2L - 1]`, the same order as the
attention logits) and *skews* the product into absolute key positions with a
pad-reshape-slice, so the extra memory is `O(L D)` for the embeddings plus a
copy of the logits.

References:
    - Huang et al., "Music Transformer: Generating Music with Long-Term
      Structure", 2018. https://arxiv.org/abs/1809.04281
    - Shaw et al., "Self-Attention with Relative Position Representations",
      2018. https://arxiv.org/abs/1803.02155
"""

from keras import ops

from keras_dlss._validation import check_rank

__all__ = ["relative_position_logits"]


def _rel_logits(query, relative_embeddings):
    """`query [..., H, Lq, D]` times embeddings `[R, D]` or `[H, R, D]` -> `[..., H, Lq, R]`."""
    if len(relative_embeddings.shape) == 2:
        return ops.einsum("...qd,rd->...qr", query, relative_embeddings)
    return ops.einsum("...hqd,hrd->...hqr", query, relative_embeddings)


def _skew_rectangular(rel_logits, key_length):
    """Maps `rel[..., i, r]` (r = j - i + Lq - 1) to absolute keys `out[..., i, j]`.

    With `W = Lq + Lk - 1` columns, padding one zero column gives rows of
    length `W + 1`; row `i`, column `c` then sits at flat index
    `i (W + 1) + c`. Re-reading the first `Lq W` entries as rows of length `W`
    puts that entry at row `i`, column `c + i`, so column `j + Lq - 1` of the
    re-read row `i` holds `rel[i, j - i + Lq - 1]` for every `0 <= j < Lk`.
    """
    shape = ops.shape(rel_logits)
    lead = tuple(shape[:-2])
    q_len, width = shape[-2], shape[-1]
    padded = ops.pad(rel_logits, [[0, 0]] * len(lead) + [[0, 0], [0, 1]])
    flat = ops.reshape(padded, lead + (q_len * (width + 1),))
    flat = flat[..., : q_len * width]
    rows = ops.reshape(flat, lead + (q_len, width))
    return rows[..., q_len - 1 : q_len - 1 + key_length]


def _skew_causal(rel_logits):
    """Huang et al.'s skew for `rel[..., i, r]`, r = j - i + L - 1 in [0, L).

    Pad one zero column on the left (`[L, L + 1]`), re-read as `[L + 1, L]` and
    drop the first row: entry `(i, j)` with `j <= i` then holds
    `rel[i, j - i + L - 1]`. Entries above the diagonal hold values of other
    rows and must be masked by the caller.
    """
    shape = ops.shape(rel_logits)
    lead = tuple(shape[:-2])
    length = shape[-1]
    padded = ops.pad(rel_logits, [[0, 0]] * len(lead) + [[0, 0], [1, 0]])
    rows = ops.reshape(padded, lead + (length + 1, length))
    return rows[..., 1:, :]


def relative_position_logits(query, relative_embeddings, causal=True):
    """Relative position attention logits `S = skew(Q E^T)` (Music Transformer).

    Computes `S[b, h, i, j] = sum_d query[b, h, i, d] *
    relative_embeddings[j - i + Lq - 1, d]`: row `r` of the table embeds the
    relative distance `r - (Lq - 1)` of key `j` to query `i`. No `[Lq, Lk, D]`
    tensor is materialized: the only intermediates are the `[B, H, Lq,
    Lq + Lk - 1]` product and its padded copy. XLA-compatible (static
    reshapes and slices only).

    Args:
        query: float tensor `[B, H, Lq, D]` (any number of leading dims).
        relative_embeddings: float tensor `[Lq + Lk - 1, D]` shared by all
            heads, or `[H, Lq + Lk - 1, D]` with one table per head. For
            self-attention `Lk = Lq = L` and the table has `2L - 1` rows.
        causal: bool. When True (requires `Lk == Lq`), entries with `j > i`
            are set to 0 and only the `L` rows of non-positive distances are
            used (half the multiply). Defaults to `True`.

    Returns:
        Tensor `[B, H, Lq, Lk]` of relative logits, to be added to the content
        logits `Q K^T` before scaling and softmax.

    Example:

    ```python
    q = keras.random.normal((2, 4, 16, 32))         # [B, H, L, D]
    e = keras.random.normal((31, 32))               # [2L - 1, D]
    s = relative_position_logits(q, e, causal=True)  # [2, 4, 16, 16]
    ```

    References:
        Huang et al., 2018, https://arxiv.org/abs/1809.04281 (section 3.4.1);
        Shaw et al., 2018, https://arxiv.org/abs/1803.02155.
    """
    if not isinstance(causal, bool):
        raise ValueError(f"Argument `causal` must be a bool. Received: causal={causal!r}")
    if len(query.shape) < 2:
        raise ValueError(
            "Argument `query` must have rank >= 2 ([..., L, D]). "
            f"Received: query.shape={tuple(query.shape)}"
        )
    check_rank("relative_embeddings", relative_embeddings, (2, 3))
    q_len, depth = query.shape[-2], query.shape[-1]
    rows, e_depth = relative_embeddings.shape[-2], relative_embeddings.shape[-1]
    if depth is not None and e_depth is not None and depth != e_depth:
        raise ValueError(
            "Argument `relative_embeddings` must have the query depth "
            f"({depth}) as last dim. Received: relative_embeddings.shape="
            f"{tuple(relative_embeddings.shape)}"
        )
    if len(relative_embeddings.shape) == 3:
        heads = query.shape[-3] if len(query.shape) >= 3 else None
        if len(query.shape) < 3 or (
            heads is not None and relative_embeddings.shape[0] not in (None, heads)
        ):
            raise ValueError(
                "Argument `relative_embeddings` of rank 3 must be `[H, R, D]` with H "
                f"the query heads ({heads}). Received: relative_embeddings.shape="
                f"{tuple(relative_embeddings.shape)}"
            )
    q_len = q_len if q_len is not None else ops.shape(query)[-2]
    rows = rows if rows is not None else ops.shape(relative_embeddings)[-2]
    if isinstance(q_len, int) and isinstance(rows, int) and rows < q_len:
        raise ValueError(
            f"Argument `relative_embeddings` must have at least Lq={q_len} rows "
            f"(Lq + Lk - 1). Received: relative_embeddings.shape="
            f"{tuple(relative_embeddings.shape)}"
        )
    key_len = rows - q_len + 1
    if causal:
        if isinstance(key_len, int) and isinstance(q_len, int) and key_len != q_len:
            raise ValueError(
                "Argument `causal=True` needs square attention (2L - 1 embedding rows). "
                f"Received: relative_embeddings.shape={tuple(relative_embeddings.shape)} "
                f"for query length {q_len}"
            )
        # Distances j - i <= 0 are rows 0..L-1 of the table.
        embeddings = relative_embeddings[..., :q_len, :]
        logits = _skew_causal(_rel_logits(query, embeddings))
        lower = ops.tril(ops.ones((q_len, q_len), dtype="bool"))
        return ops.where(lower, logits, ops.zeros_like(logits))
    return _skew_rectangular(_rel_logits(query, relative_embeddings), key_len)
