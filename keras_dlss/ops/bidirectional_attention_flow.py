"""Bidirectional attention flow (Seo et al. 2017, Sec. 2.4): the functional core of `BiDAFAttention`.

The similarity `S_tj = w^T [h_t; u_j; h_t o u_j]` (Eq. 1) is computed as three products
(`h . w_h`, `u . w_u`, `(h o w_hu) . u`) instead of materialising the `[T, J, 3d]` tensor
the equation writes: the same numbers with `T*J*3d` fewer floats of memory.

Context-to-query attention (Eq. 2) softmaxes each row of S over the query words; query-to-context
attention (Eq. 3) softmaxes `max_j S_tj` over the context words and tiles the attended context
vector over time. Padding is excluded from both softmaxes: query padding from c2q and from the
max of q2c, context padding from q2c. The softmaxes run in float32 so that the masking constant
is representable under mixed precision (float16 and bfloat16 only).
"""

from keras import ops

_NEG = -1e9


def _wide(x):
    # float16 cannot hold the masking constant; float32 and float64 stay as they are.
    return ops.cast(x, "float32") if x.dtype in ("float16", "bfloat16") else x


def _masked_softmax(logits, mask, axis):
    logits = _wide(logits)
    if mask is not None:
        logits = ops.where(mask, logits, ops.full_like(logits, _NEG))
    return ops.softmax(logits, axis=axis)


def bidaf_similarity(context, query, weight):
    """Similarity matrix `S` of Seo et al. (2017) Eq. 1.

    Args:
        context: `[batch, T, d]` float tensor `H` (contextual context embeddings).
        query: `[batch, J, d]` float tensor `U` (contextual query embeddings).
        weight: `[3 * d]` float tensor `w = [w_h; w_u; w_hu]`.

    Returns:
        `[batch, T, J]` similarities `S_tj = w^T [h_t; u_j; h_t o u_j]`.
    """
    context, query = ops.convert_to_tensor(context), ops.convert_to_tensor(query)
    d = context.shape[-1]
    weight = ops.cast(weight, context.dtype)
    w_h, w_u, w_hu = weight[:d], weight[d : 2 * d], weight[2 * d :]
    from_context = ops.expand_dims(ops.einsum("btd,d->bt", context, w_h), 2)
    from_query = ops.expand_dims(ops.einsum("bjd,d->bj", query, w_u), 1)
    return from_context + from_query + ops.einsum("btd,bjd->btj", context * w_hu, query)


def bidaf_attention(context, query, weight, context_mask=None, query_mask=None):
    """Query-aware context vectors `G` and both attentions (Seo et al. 2017, Eqs. 1-4).

    Args:
        context: `[batch, T, d]` float tensor `H`.
        query: `[batch, J, d]` float tensor `U`.
        weight: `[3 * d]` float tensor, the similarity weight `w` of Eq. 1.
        context_mask: optional `[batch, T]` bool tensor, True on real context words.
        query_mask: optional `[batch, J]` bool tensor, True on real query words.

    Returns:
        Tuple `(g, c2q, q2c)`: `g` `[batch, T, 4d]` is `[h; u~; h o u~; h o h~]` (Eq. 4),
        `c2q` `[batch, T, J]` the context-to-query attention `a_t` (rows sum to 1 over real
        query words) and `q2c` `[batch, T]` the query-to-context attention `b` (sums to 1
        over real context words).
    """
    context, query = ops.convert_to_tensor(context), ops.convert_to_tensor(query)
    s = bidaf_similarity(context, query, weight)
    q_mask = None if query_mask is None else ops.expand_dims(ops.cast(query_mask, "bool"), 1)
    c2q = _masked_softmax(s, q_mask, axis=-1)
    attended_query = ops.einsum("btj,bjd->btd", ops.cast(c2q, query.dtype), query)
    s_max = _wide(s)
    if q_mask is not None:
        s_max = ops.where(q_mask, s_max, ops.full_like(s_max, _NEG))
    c_mask = None if context_mask is None else ops.cast(context_mask, "bool")
    q2c = _masked_softmax(ops.max(s_max, axis=-1), c_mask, axis=-1)
    attended_context = ops.einsum("bt,btd->bd", ops.cast(q2c, context.dtype), context)
    attended_context = ops.expand_dims(attended_context, 1)  # tiled over T by broadcasting
    g = ops.concatenate(
        [
            context,
            attended_query,
            context * attended_query,
            context * attended_context,
        ],
        axis=-1,
    )
    return g, ops.cast(c2q, context.dtype), ops.cast(q2c, context.dtype)
