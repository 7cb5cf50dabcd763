"""Relative position logits with the memory-efficient "skewing" algorithm.

Self-attention with relative position representations (Shaw et al., 2018)
adds to each content logit `q_i . k_j` a term `q_i . e_(j - i)` that depends
only on the distance between key and query. Computed naively, this term
gathers an `[L, L, D]` tensor of embeddings (`O(L^2 D)` memory). The Music
Transformer (Huang et al., 2018, section 3.4.1) instead multiplies the queries
by the distance embeddings once (`[L, L]` causal, `[L, 2L - 1]` otherwise:
the same order as the attention logits) and *skews* the product into absolute
key positions with a pad-reshape-slice, so no `O(L^2 D)` tensor exists. We
pad the `[R, D]` table rather than the product, which saves one more
logits-sized copy.

References:
    - Huang et al., "Music Transformer: Generating Music with Long-Term
      Structure", 2018. https://arxiv.org/abs/1809.04281
    - Shaw et al., "Self-Attention with Relative Position Representations",
      2018. https://arxiv.org/abs/1803.02155
"""

from keras import ops

from keras_dlss._validation import check_dtype_kind, check_rank

__all__ = ["relative_position_logits"]


def _rel_logits(query, relative_embeddings):
    """`query [..., H, Lq, D]` times embeddings `[R, D]` or `[H, R, D]` -> `[..., H, Lq, R]`."""
    # A broadcasting matmul, not an ellipsis einsum: tf2onnx's einsum rewriter rejects "...".
    if len(relative_embeddings.shape) == 2:
        return ops.matmul(query, ops.transpose(relative_embeddings))
    return ops.matmul(query, ops.transpose(relative_embeddings, (0, 2, 1)))


def _pad_rows(embeddings, before, after):
    """Zero rows around the table: padding `E` (O(R D)) instead of `Q E^T` (O(L^2))."""
    pads = [[0, 0]] * (len(embeddings.shape) - 2) + [[before, after], [0, 0]]
    return ops.pad(embeddings, pads)


def _skew_rectangular(query, embeddings, key_length):
    """`out[..., i, j] = query_i . embeddings[j - i + Lq - 1]` for `W = Lq + Lk - 1` rows.

    One zero row appended to the table makes the product `[..., Lq, W + 1]`
    with a zero last column; row `i`, column `c` then sits at flat index
    `i (W + 1) + c`. Re-reading the first `Lq W` entries as rows of length `W`
    puts that entry at row `i`, column `c + i`, so column `j + Lq - 1` of the
    re-read row `i` holds `rel[i, j - i + Lq - 1]` for every `0 <= j < Lk`.
    """
    rel = _rel_logits(query, _pad_rows(embeddings, 0, 1))  # [..., Lq, W + 1]
    shape = ops.shape(rel)
    lead = tuple(shape[:-2])
    q_len, width = shape[-2], shape[-1] - 1
    flat = ops.reshape(rel, lead + (q_len * (width + 1),))
    rows = ops.reshape(flat[..., : q_len * width], lead + (q_len, width))
    return rows[..., q_len - 1 : q_len - 1 + key_length]


def _skew_causal(query, embeddings):
    """Huang et al.'s skew for the `L` rows of distances `-(L - 1) .. 0`.

    With a zero row prepended to the table, the product `[..., L, L + 1]` has
    a zero first column (the paper pads the logits; padding the `[L, D]`
    table instead saves an `[L, L + 1]` copy). Re-read as `[L + 1, L]` and
    drop the first row: entry `(i, j)` with `j <= i` then holds
    `query_i . embeddings[j - i + L - 1]`. Entries above the diagonal hold
    values of other rows and must be masked by the caller.
    """
    rel = _rel_logits(query, _pad_rows(embeddings, 1, 0))  # [..., L, L + 1]
    shape = ops.shape(rel)
    lead = tuple(shape[:-2])
    length = shape[-2]
    return ops.reshape(rel, lead + (length + 1, length))[..., 1:, :]


def relative_position_logits(query, relative_embeddings, causal=True):
    """Relative position attention logits `S = skew(Q E^T)` (Music Transformer).

    Computes `S[b, h, i, j] = sum_d query[b, h, i, d] *
    relative_embeddings[j - i + Lq - 1, d]`: row `r` of the table embeds the
    relative distance `r - (Lq - 1)` of key `j` to query `i`. No `[Lq, Lk, D]`
    tensor is materialized: the intermediates are the table with one zero row
    and the `[B, H, Lq, Lq + Lk]` product (`[B, H, L, L + 1]` when causal).
    XLA-compatible (static reshapes and slices only).

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
    check_dtype_kind("query", query, "floating")
    check_dtype_kind("relative_embeddings", relative_embeddings, "floating")
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
                "Argument `causal` can be True only for square attention (2L - 1 "
                "embedding rows). "
                f"Received: relative_embeddings.shape={tuple(relative_embeddings.shape)} "
                f"for query length {q_len}"
            )
        # Distances j - i <= 0 are rows 0..L-1 of the table.
        embeddings = relative_embeddings[..., :q_len, :]
        logits = _skew_causal(query, embeddings)
        # An iota comparison (not tril(ones)) lets XLA fuse the mask into the select.
        positions = ops.arange(q_len, dtype="int32")
        lower = ops.greater_equal(positions[:, None], positions[None, :])
        return ops.where(lower, logits, ops.cast(0, logits.dtype))
    return _skew_rectangular(query, relative_embeddings, key_len)
