"""Multi-head self-attention with relative position representations.

Each logit is `(q_i . k_j + q_i . e_clip(j - i)) / sqrt(d)`: the content term
of Vaswani et al. plus a learned embedding of the clipped key-query distance
(Shaw et al., 2018), computed with the Music Transformer's memory-efficient
skew (`keras_dlss.ops.relative_position_logits`, Huang et al., 2018).

References:
    - Shaw et al., "Self-Attention with Relative Position Representations",
      2018. https://arxiv.org/abs/1803.02155
    - Huang et al., "Music Transformer: Generating Music with Long-Term
      Structure", 2018. https://arxiv.org/abs/1809.04281
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.ops.relative_attention import relative_position_logits

__all__ = ["RelativeMultiHeadAttention"]

_NEG_INF = -1e9


@keras.saving.register_keras_serializable(package="keras_dlss")
class RelativeMultiHeadAttention(keras.layers.Layer):
    """Relative position multi-head self-attention (Shaw et al.; Huang et al.).

    Relative distances `j - i` are clipped to `[-K, K]` (`[-K, 0]` when
    `causal`), `K = max_relative_position`, and each clipped distance has a
    learned `key_dim` embedding, one table per head or one shared by all
    heads. The relative logits are added to the content logits before the
    softmax. A padding `mask` `[B, T]` hides padded keys; `attention_mask`
    `[B, Tq, Tk]` (True = attend) is combined with it and with the causal mask.

    For generation, pass `cache` (`[B, 2, S, num_heads, key_dim]` keys and
    values, see `initial_cache`) and `cache_update_index` (the position of the
    first query token): the layer writes the new keys/values at that position
    and returns `(outputs, new_cache)`; keys past the last query are ignored,
    so step-by-step decoding gives the same outputs as the full forward pass.

    Args:
        num_heads: int. Number of attention heads.
        key_dim: int. Size of each head for query, key and value.
        max_relative_position: int or None. Clipping distance `K`. None uses
            the sequence length of the first input minus one (it must be
            static), i.e. every distance of that length gets its own
            embedding, as in the Music Transformer. Defaults to `None`.
        causal: bool. Whether query `i` may only attend to keys `j <= i`.
            Defaults to `False`.
        dropout: float. Dropout rate on the attention probabilities.
            Defaults to `0.0`.
        heads_share_relative_embedding: bool. One relative table for all heads
            instead of one per head. Defaults to `False`.
        output_dim: int or None. Output features; None keeps the input's.
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
        inputs: float tensor `[B, T, F]`.
        mask: optional bool `[B, T]` padding mask (True = real token);
            ignored with `cache` (use `attention_mask` there).
        attention_mask: optional bool `[B, Tq, Tk]` (True = may attend).
        training: bool, whether dropout is active.
        cache: optional `[B, 2, S, num_heads, key_dim]` key/value cache.
        cache_update_index: int (or scalar tensor) position of `inputs[:, 0]`
            when `cache` is given.

    Returns:
        `[B, T, output_dim]`, or `(outputs, new_cache)` when `cache` is given.

    Example:

    ```python
    layer = RelativeMultiHeadAttention(num_heads=4, key_dim=16, causal=True)
    y = layer(keras.random.normal((2, 32, 64)))  # (2, 32, 64)
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
        for name, value in (
            ("causal", causal),
            ("heads_share_relative_embedding", heads_share_relative_embedding),
            ("use_bias", use_bias),
        ):
            if not isinstance(value, bool):
                raise ValueError(f"Argument `{name}` must be a bool. Received: {name}={value!r}")
        self.causal = causal
        self.dropout = float(check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False))
        self.heads_share_relative_embedding = heads_share_relative_embedding
        if output_dim is not None:
            output_dim = check_positive_int("output_dim", output_dim)
        self.output_dim = output_dim
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        if embeddings_initializer is None:
            embeddings_initializer = keras.initializers.RandomNormal(stddev=key_dim**-0.5)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.supports_masking = True

    def _dense(self, equation, output_shape, bias_axes, name):
        return keras.layers.EinsumDense(
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

    def build(self, inputs_shape):
        if len(inputs_shape) != 3:
            raise ValueError(
                "Argument `inputs` must have rank 3 ([batch, length, features]). "
                f"Received: inputs.shape={tuple(inputs_shape)}"
            )
        features = inputs_shape[-1]
        clip = self.max_relative_position
        if clip is None:
            if inputs_shape[1] is None:
                raise ValueError(
                    "Argument `max_relative_position` must be given when the sequence "
                    f"length is not static. Received: inputs.shape={tuple(inputs_shape)}"
                )
            clip = max(int(inputs_shape[1]) - 1, 1)
        self._clip = clip
        heads, dim = self.num_heads, self.key_dim
        self._query_dense = self._dense("btf,fhd->bthd", (None, heads, dim), "hd", "query")
        self._key_dense = self._dense("btf,fhd->bthd", (None, heads, dim), "hd", "key")
        self._value_dense = self._dense("btf,fhd->bthd", (None, heads, dim), "hd", "value")
        out = self.output_dim or features
        self._output_dense = self._dense("bthd,hdo->bto", (None, out), "o", "attention_output")
        for layer, shape in (
            (self._query_dense, inputs_shape),
            (self._key_dense, inputs_shape),
            (self._value_dense, inputs_shape),
            (self._output_dense, (inputs_shape[0], inputs_shape[1], heads, dim)),
        ):
            layer.build(shape)
        rows = clip + 1 if self.causal else 2 * clip + 1
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

    def call(
        self,
        inputs,
        mask=None,
        attention_mask=None,
        training=None,
        cache=None,
        cache_update_index=None,
    ):
        query = self._query_dense(inputs) * ops.cast(self.key_dim**-0.5, self.compute_dtype)
        key = self._key_dense(inputs)
        value = self._value_dense(inputs)
        q_len = ops.shape(inputs)[1]
        q_offset = 0
        if cache is not None:
            if cache_update_index is None:
                raise ValueError(
                    "Argument `cache_update_index` is required with `cache`. "
                    "Received: cache_update_index=None"
                )
            q_offset = ops.cast(cache_update_index, "int32")
            start = [0, q_offset, 0, 0]
            key = ops.slice_update(cache[:, 0], start, ops.cast(key, cache.dtype))
            value = ops.slice_update(cache[:, 1], start, ops.cast(value, cache.dtype))
            cache = ops.stack([key, value], axis=1)
        k_len = ops.shape(key)[1]
        query = ops.transpose(query, (0, 2, 1, 3))  # [B, H, Lq, D]
        key = ops.transpose(key, (0, 2, 1, 3))
        value = ops.transpose(value, (0, 2, 1, 3))
        logits = ops.einsum("bhqd,bhkd->bhqk", query, key)
        table = self._relative_table(q_len, k_len, q_offset)
        square_causal = self.causal and cache is None
        logits = logits + relative_position_logits(query, table, causal=square_causal)
        allowed = self._allowed(mask, attention_mask, q_len, k_len, q_offset, cache is not None)
        # Softmax in at least float32 (half precision overflows at -1e9), never below
        # the compute dtype (float64 gradient checks).
        softmax_dtype = (
            "float32" if self.compute_dtype in ("float16", "bfloat16") else self.compute_dtype
        )
        logits = ops.cast(logits, softmax_dtype)
        if allowed is not None:
            logits = ops.where(allowed, logits, _NEG_INF)
        probs = ops.cast(ops.softmax(logits, axis=-1), self.compute_dtype)
        probs = self._dropout_layer(probs, training=training)
        context = ops.einsum("bhqk,bhkd->bqhd", probs, value)
        outputs = self._output_dense(context)
        return outputs if cache is None else (outputs, cache)

    def _allowed(self, mask, attention_mask, q_len, k_len, q_offset, cached):
        """Bool `[B|1, 1, Lq, Lk]` of the keys each query may attend to, or None."""
        allowed = None
        if self.causal or cached:
            q_pos = ops.arange(q_len, dtype="int32")[:, None] + q_offset
            k_pos = ops.arange(k_len, dtype="int32")[None, :]
            # With a cache, keys past the last written position are not valid yet.
            last = q_pos if self.causal else q_offset + q_len - 1
            allowed = ops.less_equal(k_pos, last)[None, None]
        if mask is not None and not cached:
            keys = ops.cast(mask, "bool")[:, None, None, :]
            allowed = keys if allowed is None else ops.logical_and(allowed, keys)
        if attention_mask is not None:
            extra = ops.cast(attention_mask, "bool")[:, None]
            allowed = extra if allowed is None else ops.logical_and(allowed, extra)
        return allowed

    def compute_mask(self, inputs, mask=None, **kwargs):
        return mask

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape[:-1]) + (self.output_dim or inputs_shape[-1],)

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
