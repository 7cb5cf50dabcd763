"""Trace-time argument checks shared by the attention layers and blocks (internal).

`RelativeMultiHeadAttention`, `TransformerEncoderBlock` and
`TransformerDecoderBlock` take the same kinds of arguments (`[B, T, F]`
sequences, `[B, T]` padding masks, `[B, Tq, Tk]` attention masks, a key/value
cache with its update index); each kind is checked here, once, on static
shapes and dtypes only, so the checks cost nothing in a compiled graph and
every error names the argument as the caller spelled it (aliases included).
"""

from keras_dlss._validation import (
    check_dims_match,
    check_dtype_kind,
    check_mask_shape,
    check_rank,
)

BUILT_FEATURES = "the features it was built with"


def check_bool(name, value):
    """Returns `value` if it is a Python bool (0/1 and tensors are refused)."""
    if not isinstance(value, bool):
        raise ValueError(f"Argument `{name}` must be a bool. Received: {name}={value!r}")
    return value


def check_sequence_shape(name, shape):
    """Build time: `shape` (if given) is a rank-3 `[batch, length, features]` shape."""
    if shape is not None and len(shape) != 3:
        raise ValueError(
            f"Argument `{name}` must have rank 3 ([batch, length, features]). "
            f"Received: {name}.shape={tuple(shape)}"
        )


def check_sequence(name, x, batch=None, batch_of=None, features=None):
    """`x` is a float `[B, T, F]` tensor; `B` matches `batch` (the batch size of
    `batch_of`) and `F` the build-time `features`, when those are known."""
    check_rank(name, x, 3)
    check_dtype_kind(name, x, "floating")
    if batch_of is not None:
        check_dims_match(name, x, 0, batch, f"the batch size of `{batch_of}`")
    check_dims_match(name, x, -1, features, BUILT_FEATURES)


def check_attention_mask(name, mask, query_name, query, key_length, key_desc="the key length"):
    """`mask` (if given) is `[B, Tq, Tk]` for `query` `[B, Tq, ...]` and `key_length` keys."""
    if mask is None:
        return
    check_rank(name, mask, 3)
    for axis, dim, desc in (
        (0, query.shape[0], f"the batch size of `{query_name}`"),
        (1, query.shape[1], f"the length of `{query_name}`"),
        (2, key_length, key_desc),
    ):
        check_dims_match(name, mask, axis, dim, desc)


def check_cache_key_mask(name, mask, query, cache_length):
    """`mask` (if given) is `[B, S]` over the `cache_length` cache positions."""
    if mask is None:
        return
    check_rank(name, mask, 2)
    check_dims_match(name, mask, 0, query.shape[0], "the batch size of `query`")
    check_dims_match(name, mask, 1, cache_length, "the cache length (`cache.shape[2]`)")


def check_cache(name, cache, rank, layout, index_name, index):
    """A float cache of rank `rank` whose axes match `layout` ({axis: (dim, description)}),
    with a scalar integer `index` (the position its new entries are written at)."""
    check_rank(name, cache, rank)
    check_dtype_kind(name, cache, "floating")
    for axis, (dim, desc) in layout.items():
        check_dims_match(name, cache, axis, dim, desc)
    if index is None:
        raise ValueError(
            f"Argument `{index_name}` is required with `{name}`. Received: {index_name}=None"
        )
    if hasattr(index, "shape"):
        check_rank(index_name, index, 0)
        check_dtype_kind(index_name, index, "integer")


def check_attention_call(
    query, value, key, masks, attention_mask, cache, index, features=None, cache_heads=None
):
    """Checks a `RelativeMultiHeadAttention` call; returns the (static) key length.

    `masks` is `(query_mask, value_mask, key_mask, mask)`, `features` the
    build-time `(query, value, key)` features (None before build) and
    `cache_heads` `(num_heads, key_dim)`, the cache's last two axes.
    """
    features = features or (None, None, None)
    check_sequence("query", query, features=features[0])
    if key is not None and value is None:
        raise ValueError(
            "Argument `key` needs `value` (None means self-attention on `query`). "
            f"Received: key.shape={tuple(key.shape)}, value=None"
        )
    for name, x, built in (("value", value, features[1]), ("key", key, features[2])):
        if x is not None:
            check_sequence(name, x, query.shape[0], "query", built)
    if key is not None:
        check_dims_match("key", key, 1, value.shape[1], "the length of `value`")
    query_mask, value_mask, key_mask, mask = masks
    check_mask_shape("query_mask", query_mask, "query", query)
    check_mask_shape("mask", mask, "query", query)
    if cache is not None:
        if value is not None:
            raise ValueError(
                "Argument `value` must be None with `cache`: the cache holds the "
                f"self-attention keys and values. Received: value.shape={tuple(value.shape)}"
            )
        layout = {
            0: (query.shape[0], "the batch size of `query`"),
            1: (2, "keys and values"),
            3: (cache_heads[0], "`num_heads`"),
            4: (cache_heads[1], "`key_dim`"),
        }
        check_cache("cache", cache, 5, layout, "cache_update_index", index)
        key_length = cache.shape[2]
        check_cache_key_mask("value_mask", value_mask, query, key_length)
        check_cache_key_mask("key_mask", key_mask, query, key_length)
    else:
        ref_name, ref = ("query", query) if value is None else ("value", value)
        key_name, key_ref = ("key", key) if key is not None else (ref_name, ref)
        check_mask_shape("value_mask", value_mask, ref_name, ref)
        check_mask_shape("key_mask", key_mask, key_name, key_ref)
        key_length = key_ref.shape[1]
    check_attention_mask("attention_mask", attention_mask, "query", query, key_length)
    return key_length
