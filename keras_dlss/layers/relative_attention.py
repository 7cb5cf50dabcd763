"""Multi-head attention with relative position representations.

Each logit is `(q_i . k_j + q_i . e_clip(j - i)) / sqrt(d)`: the content term
of Vaswani et al. plus a learned embedding of the clipped key-query distance
(Shaw et al., 2018), computed with the Music Transformer's memory-efficient
skew (`keras_dlss.ops.relative_position_logits`, Huang et al., 2018).

The call follows `keras.layers.MultiHeadAttention`, so that it is a drop-in
replacement. When query and key lengths differ we align the *ends* of the
two sequences (query `i` sits at key position `i + Lk - Lq`), as cached
decoding does (the new queries are the last positions written to the cache),
so `layer(x[:, -n:], x)` with a causal mask equals the last `n` rows of
`layer(x)`. Start alignment (Keras's `use_causal_mask` for `Lq != Lk`) would
give one query two different distances in the full and incremental passes.

References:
    - Shaw et al., "Self-Attention with Relative Position Representations",
      2018. https://arxiv.org/abs/1803.02155
    - Huang et al., "Music Transformer: Generating Music with Long-Term
      Structure", 2018. https://arxiv.org/abs/1809.04281
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.layers._attention_checks import (
    check_attention_call,
    check_bool,
    check_sequence_shape,
)
from keras_dlss.layers._attention_masks import and_masks, position_mask
from keras_dlss.ops.relative_attention import relative_position_logits

__all__ = ["RelativeMultiHeadAttention"]

_NEG_INF = -1e9


def _write_cache(cache, k, v, index):
    """Writes keys/values `[B, Lq, H, D]` at `index`; returns `(keys, values, cache)`."""
    start = [0, index, 0, 0]
    k = ops.slice_update(cache[:, 0], start, ops.cast(k, cache.dtype))
    v = ops.slice_update(cache[:, 1], start, ops.cast(v, cache.dtype))
    return k, v, ops.stack([k, v], axis=1)


def _allowed(positions, query_mask, key_mask, attention_mask):
    """Bool `[B|1, 1, Lq, Lk]` of the keys each query may attend to, or None."""
    allowed = None if positions is None else positions[None, None]
    if key_mask is not None:
        allowed = and_masks(allowed, ops.cast(key_mask, "bool")[:, None, None, :])
    if query_mask is not None:
        allowed = and_masks(allowed, ops.cast(query_mask, "bool")[:, None, :, None])
    if attention_mask is not None:
        allowed = and_masks(allowed, ops.cast(attention_mask, "bool")[:, None])
    return allowed


@keras.saving.register_keras_serializable(package="keras_dlss")
class RelativeMultiHeadAttention(keras.layers.Layer):
    """Relative position multi-head attention (Shaw et al.; Huang et al.).

    A drop-in for `keras.layers.MultiHeadAttention` on `[batch, length,
    features]` inputs: `layer(query)` or `layer(query, query)` is
    self-attention, `layer(query, value)` / `layer(query, value, key)` is
    cross-attention. Each logit gets a learned embedding of the key-query
    distance `j - i`, clipped to `[-K, K]` (`[-K, 0]` when `causal`),
    `K = max_relative_position`, one table per head or one shared by all
    heads, computed with the Music Transformer's skew in `O(L D)` memory.

    When `Lq != Lk` the two sequences are aligned at their *ends*: query `i`
    sits at key position `i + Lk - Lq` (the last query faces the last key),
    as in cached decoding, so its distance to key `j` is `j - i - (Lk - Lq)`
    and the causal mask lets it see keys `j <= i + Lk - Lq` (Keras's
    `use_causal_mask` aligns the starts instead: `tril` of `[Lq, Lk]`).

    For generation, pass `cache` (`[B, 2, S, num_heads, key_dim]` keys and
    values, see `initial_cache`) and `cache_update_index` (the position of the
    first query token): the layer writes the new keys/values at that position
    and returns `(outputs, new_cache)`; keys past the last query are ignored,
    so step-by-step decoding gives the same outputs as the full forward pass.

    Deliberate differences from `keras.layers.MultiHeadAttention`:

    - `value` is optional (None means self-attention on `query`), and the
      value/key side then reuses the query's padding mask.
    - Inputs must be rank 3 (`attention_axes` is not supported).
    - `causal=True` in the constructor makes every call causal (whatever
      `use_causal_mask` says) and halves the relative table; `use_causal_mask`
      adds a causal mask to a non-causal layer for one call.
    - `output_dim` replaces `output_shape` (an int only), `value_dim` is
      `key_dim`, and `cache` / `cache_update_index` (keras-hub's
      `CachedMultiHeadAttention` layout) are extra.
    - `mask=` is the Keras mask of `query` (an alias of `query_mask`), kept
      for backwards compatibility and so Keras propagates masks in
      `layer(x)` calls.

    Args:
        num_heads: int. Number of attention heads.
        key_dim: int. Size of each head for query, key and value.
        max_relative_position: int or None. Clipping distance `K`. None uses
            the build-time lengths, `max(Lq, Lk) - 1` (they must be static),
            i.e. every distance of that length gets its own embedding, as in
            the Music Transformer. Defaults to `None`.
        causal: bool. Whether query `i` may only attend to keys at or before
            its own position. Defaults to `False`.
        dropout: float. Dropout rate on the attention probabilities.
            Defaults to `0.0`.
        heads_share_relative_embedding: bool. One relative table for all heads
            instead of one per head. Defaults to `False`.
        output_dim: int or None. Output features; None keeps the query's.
            Defaults to `None`.
        use_bias: bool. Whether the projections use biases. Defaults to `True`.
        kernel_initializer: Initializer of the projection kernels.
            Defaults to `"glorot_uniform"`.
        bias_initializer: Initializer of the projection biases.
            Defaults to `"zeros"`.
        embeddings_initializer: Initializer of the relative table.
            Defaults to a normal with stddev `key_dim ** -0.5`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        query: float tensor `[B, Tq, F]`.
        value: optional float tensor `[B, Tv, F_v]`; None means `query`.
        key: optional float tensor `[B, Tv, F_k]`; None means `value`.
        query_mask: optional `[B, Tq]` mask (True = real token); masked
            query rows attend uniformly, as in Keras. Filled in by Keras from
            `query`'s Keras mask.
        value_mask: optional `[B, Tv]` mask hiding padded keys (`[B, S]`
            over cache positions with `cache`). For self-attention it defaults
            to the query mask.
        key_mask: optional `[B, Tv]` mask, combined with `value_mask`.
        attention_mask: optional bool `[B, Tq, Tv]` (True = may attend),
            combined with the other masks.
        return_attention_scores: bool. Also return the attention
            probabilities `[B, num_heads, Tq, Tv]` (before dropout).
        training: bool, whether dropout is active.
        use_causal_mask: bool. Apply a causal mask for this call.
        mask: optional `[B, Tq]`, an alias of `query_mask`.
        cache: optional `[B, 2, S, num_heads, key_dim]` key/value cache
            (self-attention only).
        cache_update_index: int (or scalar int tensor) position of
            `query[:, 0]` when `cache` is given.

    Returns:
        `outputs` `[B, Tq, output_dim]`, followed by the scores when
        `return_attention_scores` and by the new cache when `cache` is given:
        `(outputs, scores)`, `(outputs, cache)` or `(outputs, scores, cache)`.

    Example:

    ```python
    layer = RelativeMultiHeadAttention(num_heads=4, key_dim=16, causal=True)
    x = keras.random.normal((2, 32, 64))
    y = layer(x)  # self-attention, (2, 32, 64); layer(x, x) is the same
    memory = keras.random.normal((2, 48, 64))
    z, scores = layer(x, memory, return_attention_scores=True)  # (2, 4, 32, 48)
    ```

    References:
        Shaw et al., 2018, https://arxiv.org/abs/1803.02155;
        Huang et al., 2018, https://arxiv.org/abs/1809.04281.
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        max_relative_position=None,
        causal=False,
        dropout=0.0,
        heads_share_relative_embedding=False,
        output_dim=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        embeddings_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.key_dim = check_positive_int("key_dim", key_dim)
        if max_relative_position is not None:
            max_relative_position = check_positive_int(
                "max_relative_position", max_relative_position
            )
        self.max_relative_position = max_relative_position
        self.causal = check_bool("causal", causal)
        self.dropout = float(check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False))
        self.heads_share_relative_embedding = check_bool(
            "heads_share_relative_embedding", heads_share_relative_embedding
        )
        if output_dim is not None:
            output_dim = check_positive_int("output_dim", output_dim)
        self.output_dim = output_dim
        self.use_bias = check_bool("use_bias", use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        if embeddings_initializer is None:
            embeddings_initializer = keras.initializers.RandomNormal(stddev=key_dim**-0.5)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.supports_masking = True

    def _dense(self, equation, output_shape, bias_axes, name, input_shape):
        layer = keras.layers.EinsumDense(
            equation,
            output_shape=output_shape,
            bias_axes=bias_axes if self.use_bias else None,
            # Fresh copies: sublayers must not share one seeded initializer object.
            kernel_initializer=self.kernel_initializer.__class__.from_config(
                self.kernel_initializer.get_config()
            ),
            bias_initializer=self.bias_initializer.__class__.from_config(
                self.bias_initializer.get_config()
            ),
            dtype=self.dtype_policy,
            name=name,
        )
        # This layer consumes the inputs' Keras masks itself (as `query_mask` /
        # `value_mask`); marked as mask-aware, the projections pass the mask by
        # instead of warning that they destroy it (one warning per projection).
        layer.supports_masking = True
        layer.build(input_shape)
        return layer

    def build(self, query_shape, value_shape=None, key_shape=None):
        for name, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            check_sequence_shape(name, shape)
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        clip = self.max_relative_position
        if clip is None:
            if query_shape[1] is None or key_shape[1] is None:
                raise ValueError(
                    "Argument `max_relative_position` must be given when the sequence "
                    f"length is not static. Received: query.shape={tuple(query_shape)}, "
                    f"key.shape={tuple(key_shape)}"
                )
            clip = max(int(query_shape[1]), int(key_shape[1])) - 1
        self._clip = max(clip, 1)
        self._features = (query_shape[-1], value_shape[-1], key_shape[-1])
        heads, dim = self.num_heads, self.key_dim
        projection = ("btf,fhd->bthd", (None, heads, dim), "hd")
        self._query_dense = self._dense(*projection, "query", query_shape)
        self._key_dense = self._dense(*projection, "key", key_shape)
        self._value_dense = self._dense(*projection, "value", value_shape)
        out = (None, self.output_dim or query_shape[-1])
        merged = (*query_shape[:2], heads, dim)
        self._output_dense = self._dense("bthd,hdo->bto", out, "o", "attention_output", merged)
        rows = self._clip + 1 if self.causal else 2 * self._clip + 1
        shape = (rows, dim) if self.heads_share_relative_embedding else (heads, rows, dim)
        self.relative_embeddings = self.add_weight(
            name="relative_embeddings", shape=shape, initializer=self.embeddings_initializer
        )
        self._dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def initial_cache(self, batch_size, max_length):
        """Zeros `[batch_size, 2, max_length, num_heads, key_dim]` for `cache`."""
        return ops.zeros(
            (batch_size, 2, max_length, self.num_heads, self.key_dim), dtype=self.compute_dtype
        )

    def _relative_table(self, q_len, k_len, q_offset):
        """Rows for distances `-(q_offset + Lq - 1) ... (Lk - 1 - q_offset)`, clipped."""
        distance = ops.arange(q_len + k_len - 1, dtype="int32") - (q_len - 1) - q_offset
        high = 0 if self.causal else self._clip
        index = ops.clip(distance, -self._clip, high) + self._clip
        table = ops.cast(ops.convert_to_tensor(self.relative_embeddings), self.compute_dtype)
        return ops.take(table, index, axis=-2)

    def _validate(self, query, value, key, masks, attention_mask, cache, cache_update_index):
        """Trace-time checks (free in the compiled graph); returns the key length."""
        return check_attention_call(
            query,
            value,
            key,
            masks,
            attention_mask,
            cache,
            cache_update_index,
            features=getattr(self, "_features", None),
            cache_heads=(self.num_heads, self.key_dim),
        )

    def call(
        self,
        query,
        value=None,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
        mask=None,
        cache=None,
        cache_update_index=None,
    ):
        masks = (query_mask, value_mask, key_mask, mask)
        self._validate(query, value, key, masks, attention_mask, cache, cache_update_index)
        query_mask = and_masks(query_mask, mask)
        if value is None and cache is None and value_mask is None and key_mask is None:
            value_mask = query_mask  # self-attention: keys are the queries
        key_side_mask = and_masks(value_mask, key_mask)
        self_attention = value is None or (value is query and key in (None, query))
        value = query if value is None else value
        key = value if key is None else key
        causal = self.causal or bool(use_causal_mask)
        scale = ops.cast(self.key_dim**-0.5, self.compute_dtype)
        q = ops.transpose(self._query_dense(query) * scale, (0, 2, 1, 3))  # [B, H, Lq, D]
        k = self._key_dense(key)
        v = self._value_dense(value)
        q_len, k_len = ops.shape(query)[1], ops.shape(key)[1]
        if cache is not None:
            q_offset = ops.cast(cache_update_index, "int32")
            k, v, cache = _write_cache(cache, k, v, q_offset)
            k_len = ops.shape(k)[1]
        else:
            q_offset = k_len - q_len  # end alignment (module docstring)
        k = ops.transpose(k, (0, 2, 1, 3))
        v = ops.transpose(v, (0, 2, 1, 3))
        logits = ops.einsum("bhqd,bhkd->bhqk", q, k)
        table = self._relative_table(q_len, k_len, q_offset)
        # The half-size causal skew needs square, unshifted attention.
        square = cache is None and (self_attention or (isinstance(q_len, int) and q_len == k_len))
        logits = logits + relative_position_logits(q, table, causal=causal and square)
        positions = position_mask(q_len, k_len, q_offset, causal, cache is not None)
        allowed = _allowed(positions, query_mask, key_side_mask, attention_mask)
        scores = self._masked_softmax(logits, allowed)
        probs = self._dropout_layer(scores, training=training)
        outputs = self._output_dense(ops.einsum("bhqk,bhkd->bqhd", probs, v))
        result = (outputs, scores) if return_attention_scores else (outputs,)
        if cache is not None:
            result = result + (cache,)
        return result if len(result) > 1 else outputs

    def _masked_softmax(self, logits, allowed):
        # At least float32 (half precision overflows at -1e9), never below the
        # compute dtype (float64 gradient checks).
        half = self.compute_dtype in ("float16", "bfloat16")
        logits = ops.cast(logits, "float32" if half else self.compute_dtype)
        if allowed is not None:
            logits = ops.where(allowed, logits, _NEG_INF)
        return ops.cast(ops.softmax(logits, axis=-1), self.compute_dtype)

    def compute_mask(self, query, mask=None, **kwargs):
        return mask

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        return tuple(query_shape[:-1]) + (self.output_dim or query_shape[-1],)

    def compute_output_spec(
        self,
        query,
        value=None,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
        mask=None,
        cache=None,
        cache_update_index=None,
    ):
        masks = (query_mask, value_mask, key_mask, mask)
        k_len = self._validate(query, value, key, masks, attention_mask, cache, cache_update_index)
        shape = self.compute_output_shape(query.shape)
        result = (keras.KerasTensor(shape, dtype=self.compute_dtype),)
        if return_attention_scores:
            scores_shape = (query.shape[0], self.num_heads, query.shape[1], k_len)
            result += (keras.KerasTensor(scores_shape, dtype=self.compute_dtype),)
        if cache is not None:
            result += (keras.KerasTensor(cache.shape, dtype=cache.dtype),)
        return result if len(result) > 1 else result[0]

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "max_relative_position": self.max_relative_position,
            "causal": self.causal,
            "dropout": self.dropout,
            "heads_share_relative_embedding": self.heads_share_relative_embedding,
            "output_dim": self.output_dim,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }
