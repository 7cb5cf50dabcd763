"""Pre-norm Transformer encoder and decoder blocks, relative or absolute attention.

Each block is a thin composition of Keras core layers (`LayerNormalization`,
`Dense`, `Dropout`, `MultiHeadAttention`) and `RelativeMultiHeadAttention`:
`x + Dropout(SelfAttention(LayerNorm(x)))`, then (decoder with `memory`)
`x + Dropout(CrossAttention(LayerNorm(x), memory))`, then
`x + Dropout(FFN(LayerNorm(x)))`. Normalizing before each sublayer (pre-norm,
Xiong et al., 2020) trains without warm-up at the depths used here.

References:
    - Vaswani et al., "Attention Is All You Need", 2017.
      https://arxiv.org/abs/1706.03762
    - Huang et al., "Music Transformer", 2018. https://arxiv.org/abs/1809.04281
    - Xiong et al., "On Layer Normalization in the Transformer Architecture",
      2020. https://arxiv.org/abs/2002.04745
"""

import keras
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, check_range
from keras_dlss.layers.relative_attention import RelativeMultiHeadAttention

__all__ = ["TransformerEncoderBlock", "TransformerDecoderBlock"]


class _TransformerBlock(keras.layers.Layer):
    """Shared pieces: self-attention, feed-forward, norms and config."""

    _causal = False

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        key_dim=None,
        attention="relative",
        max_relative_position=None,
        heads_share_relative_embedding=False,
        dropout=0.0,
        activation="relu",
        layer_norm_epsilon=1e-5,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.intermediate_dim = check_positive_int("intermediate_dim", intermediate_dim)
        self.key_dim = None if key_dim is None else check_positive_int("key_dim", key_dim)
        self.attention = check_one_of("attention", attention, ("relative", "absolute"))
        if max_relative_position is not None:
            max_relative_position = check_positive_int(
                "max_relative_position", max_relative_position
            )
        self.max_relative_position = max_relative_position
        self.heads_share_relative_embedding = bool(heads_share_relative_embedding)
        self.dropout = float(check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False))
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = float(
            check_range("layer_norm_epsilon", layer_norm_epsilon, 0.0, low_inclusive=False)
        )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def _initializer(self):
        return self.kernel_initializer.__class__.from_config(self.kernel_initializer.get_config())

    def _norm(self, name, shape):
        layer = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
        )
        layer.build(shape)
        return layer

    def _build_self_attention_and_ffn(self, inputs_shape):
        if len(inputs_shape) != 3:
            raise ValueError(
                "Argument `inputs` must have rank 3 ([batch, length, features]). "
                f"Received: inputs.shape={tuple(inputs_shape)}"
            )
        features = inputs_shape[-1]
        self._head_dim = self.key_dim or max(features // self.num_heads, 1)
        self._self_norm = self._norm("self_attention_norm", inputs_shape)
        if self.attention == "relative":
            self._self_attention = RelativeMultiHeadAttention(
                self.num_heads,
                self._head_dim,
                max_relative_position=self.max_relative_position,
                causal=self._causal,
                dropout=self.dropout,
                heads_share_relative_embedding=self.heads_share_relative_embedding,
                kernel_initializer=self._initializer(),
                dtype=self.dtype_policy,
                name="self_attention",
            )
            self._self_attention.build(inputs_shape)
        else:
            self._self_attention = keras.layers.MultiHeadAttention(
                self.num_heads,
                self._head_dim,
                dropout=self.dropout,
                kernel_initializer=self._initializer(),
                dtype=self.dtype_policy,
                name="self_attention",
            )
            self._self_attention.build(inputs_shape, inputs_shape)
        self._ffn_norm = self._norm("feedforward_norm", inputs_shape)
        self._ffn_inner = keras.layers.Dense(
            self.intermediate_dim,
            activation=self.activation,
            kernel_initializer=self._initializer(),
            dtype=self.dtype_policy,
            name="feedforward_intermediate",
        )
        self._ffn_inner.build(inputs_shape)
        self._ffn_outer = keras.layers.Dense(
            features,
            kernel_initializer=self._initializer(),
            dtype=self.dtype_policy,
            name="feedforward_output",
        )
        self._ffn_outer.build(tuple(inputs_shape[:-1]) + (self.intermediate_dim,))
        self._dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def _feedforward(self, x, training):
        y = self._ffn_outer(self._ffn_inner(self._ffn_norm(x)))
        return x + self._dropout_layer(y, training=training)

    def _absolute_mask(self, mask, q_len, k_len, q_offset=0, cached=False):
        """Bool `[B|1, Lq, Lk]` for keras `MultiHeadAttention`, or None."""
        allowed = None
        if self._causal or cached:
            q_pos = ops.arange(q_len, dtype="int32")[:, None] + q_offset
            k_pos = ops.arange(k_len, dtype="int32")[None, :]
            allowed = ops.less_equal(k_pos, q_pos)[None]
        if mask is not None and not cached:
            keys = ops.cast(mask, "bool")[:, None, :]
            allowed = keys if allowed is None else ops.logical_and(allowed, keys)
        return allowed

    def _self_attend(self, x, mask, training, cache=None, cache_update_index=None):
        """Pre-norm residual self-attention; returns `(x, new_cache)`."""
        normed = self._self_norm(x)
        if self.attention == "relative":
            if cache is None:
                y = self._self_attention(normed, mask=mask, training=training)
            else:
                y, cache = self._self_attention(
                    normed, cache=cache, cache_update_index=cache_update_index, training=training
                )
        else:
            if cache is None:
                context = normed
                allowed = self._absolute_mask(mask, ops.shape(x)[1], ops.shape(x)[1])
            else:
                # Keras MultiHeadAttention has no key/value cache: cache the normed inputs.
                index = ops.cast(cache_update_index, "int32")
                cache = ops.slice_update(cache, [0, index, 0], ops.cast(normed, cache.dtype))
                context = cache
                allowed = self._absolute_mask(
                    None, ops.shape(x)[1], ops.shape(cache)[1], index, cached=True
                )
            y = self._self_attention(
                normed, context, context, attention_mask=allowed, training=training
            )
        return x + self._dropout_layer(y, training=training), cache

    def initial_cache(self, batch_size, max_length):
        """Zeros cache for `max_length` positions (format depends on `attention`)."""
        if self.attention == "relative":
            return self._self_attention.initial_cache(batch_size, max_length)
        features = self._ffn_outer.units
        return ops.zeros((batch_size, max_length, features), dtype=self.compute_dtype)

    def compute_mask(self, inputs, mask=None, **kwargs):
        return mask

    def compute_output_shape(self, inputs_shape, *args, **kwargs):
        return tuple(inputs_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "key_dim": self.key_dim,
            "attention": self.attention,
            "max_relative_position": self.max_relative_position,
            "heads_share_relative_embedding": self.heads_share_relative_embedding,
            "dropout": self.dropout,
            "activation": keras.activations.serialize(self.activation),
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


_BLOCK_ARGS = """
    Args:
        num_heads: int. Attention heads.
        intermediate_dim: int. Hidden units of the feed-forward network.
        key_dim: int or None. Size of each head; None uses
            `features // num_heads`. Defaults to `None`.
        attention: `"relative"` (`RelativeMultiHeadAttention`, Shaw et al. /
            Huang et al.) or `"absolute"` (`keras.layers.MultiHeadAttention`;
            add position embeddings to the inputs yourself).
            Defaults to `"relative"`.
        max_relative_position: int or None. Clipping distance of the relative
            attention (None: the build-time sequence length). Defaults to `None`.
        heads_share_relative_embedding: bool. One relative table for all heads.
            Defaults to `False`.
        dropout: float. Dropout on attention probabilities and residual
            branches. Defaults to `0.0`.
        activation: Activation of the feed-forward network. Defaults to `"relu"`.
        layer_norm_epsilon: float. Epsilon of the layer norms. Defaults to `1e-5`.
        kernel_initializer: Initializer of every kernel.
            Defaults to `"glorot_uniform"`.
        **kwargs: Base `Layer` arguments.
"""


@keras.saving.register_keras_serializable(package="keras_dlss")
class TransformerEncoderBlock(_TransformerBlock):
    """Pre-norm Transformer encoder block (bidirectional self-attention + FFN).

    `x + Dropout(SelfAttention(LayerNorm(x)))`, then
    `x + Dropout(FFN(LayerNorm(x)))`. A padding `mask` `[B, T]` hides padded
    keys and is propagated.
    {args}
    Call arguments:
        inputs: float `[B, T, F]`.
        mask: optional bool `[B, T]`.
        training: bool.

    Returns:
        `[B, T, F]`.

    Example:

    ```python
    block = TransformerEncoderBlock(num_heads=4, intermediate_dim=128)
    y = block(keras.random.normal((2, 16, 64)))  # (2, 16, 64)
    ```

    References:
        Vaswani et al., 2017, https://arxiv.org/abs/1706.03762;
        Shaw et al., 2018, https://arxiv.org/abs/1803.02155.
    """

    def build(self, inputs_shape):
        self._build_self_attention_and_ffn(inputs_shape)

    def call(self, inputs, mask=None, training=None):
        x, _ = self._self_attend(inputs, mask, training)
        return self._feedforward(x, training)


@keras.saving.register_keras_serializable(package="keras_dlss")
class TransformerDecoderBlock(_TransformerBlock):
    """Pre-norm Transformer decoder block (causal self-attention, cross-attention, FFN).

    Causal self-attention (relative or absolute), then, when `memory` (the
    encoder outputs) is given, cross-attention to it with
    `keras.layers.MultiHeadAttention`, then the feed-forward network. Without
    `memory` it is the decoder-only block of the Music Transformer. A block
    built with `memory` must always be called with it.

    For generation, pass `cache` (from `initial_cache`) and
    `cache_update_index`; the block returns `(outputs, new_cache)` and step-by-step
    outputs equal the full forward pass.
    {args}
    Call arguments:
        inputs: float `[B, T, F]`.
        memory: optional float `[B, S, F_m]` encoder outputs.
        mask: optional bool `[B, T]` padding mask of `inputs`.
        memory_mask: optional bool `[B, S]` padding mask of `memory`.
        training: bool.
        cache: optional cache from `initial_cache(batch_size, max_length)`.
        cache_update_index: int or scalar tensor, position of `inputs[:, 0]`.

    Returns:
        `[B, T, F]`, or `(outputs, new_cache)` when `cache` is given.

    Example:

    ```python
    block = TransformerDecoderBlock(num_heads=4, intermediate_dim=128)
    y = block(keras.random.normal((2, 16, 64)))  # causal, (2, 16, 64)
    ```

    References:
        Vaswani et al., 2017, https://arxiv.org/abs/1706.03762;
        Huang et al., 2018, https://arxiv.org/abs/1809.04281.
    """

    _causal = True

    def build(self, inputs_shape, memory_shape=None):
        self._build_self_attention_and_ffn(inputs_shape)
        self._cross_attention = None
        if memory_shape is not None:
            self._cross_norm = self._norm("cross_attention_norm", inputs_shape)
            self._cross_attention = keras.layers.MultiHeadAttention(
                self.num_heads,
                self._head_dim,
                dropout=self.dropout,
                kernel_initializer=self._initializer(),
                dtype=self.dtype_policy,
                name="cross_attention",
            )
            self._cross_attention.build(inputs_shape, memory_shape)

    def call(
        self,
        inputs,
        memory=None,
        mask=None,
        memory_mask=None,
        training=None,
        cache=None,
        cache_update_index=None,
    ):
        if cache is not None and cache_update_index is None:
            raise ValueError(
                "Argument `cache_update_index` is required with `cache`. "
                "Received: cache_update_index=None"
            )
        if (memory is None) != (self._cross_attention is None):
            raise ValueError(
                "Argument `memory` must be given if and only if the block was built with it. "
                f"Received: memory={'None' if memory is None else tuple(memory.shape)}"
            )
        x, new_cache = self._self_attend(inputs, mask, training, cache, cache_update_index)
        if memory is not None:
            allowed = None
            if memory_mask is not None:
                allowed = ops.cast(memory_mask, "bool")[:, None, :]
                allowed = ops.broadcast_to(
                    allowed, (ops.shape(x)[0], ops.shape(x)[1], ops.shape(memory)[1])
                )
            y = self._cross_attention(
                self._cross_norm(x), memory, memory, attention_mask=allowed, training=training
            )
            x = x + self._dropout_layer(y, training=training)
        outputs = self._feedforward(x, training)
        return outputs if cache is None else (outputs, new_cache)


TransformerEncoderBlock.__doc__ = TransformerEncoderBlock.__doc__.format(args=_BLOCK_ARGS)
TransformerDecoderBlock.__doc__ = TransformerDecoderBlock.__doc__.format(args=_BLOCK_ARGS)
