"""The pre-norm Transformer block shared by the encoder and decoder blocks (internal).

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

from keras_dlss._validation import (
    check_mask_shape,
    check_one_of,
    check_positive_int,
    check_range,
)
from keras_dlss.layers._attention_checks import (
    check_attention_mask,
    check_sequence,
    check_sequence_shape,
)
from keras_dlss.layers._attention_masks import and_masks, position_mask
from keras_dlss.layers.relative_attention import RelativeMultiHeadAttention


class TransformerBlock(keras.layers.Layer):
    """Shared pieces: self-attention, feed-forward, norms and config."""

    _causal = False  # builds a causal relative table ([-K, 0] only)

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

    def _build_self_attention_and_ffn(self, inputs_shape, name="inputs"):
        check_sequence_shape(name, inputs_shape)
        features = inputs_shape[-1]
        self._features = features
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

    def _absolute_mask(
        self, padding, attention_mask, q_len, k_len, causal, q_offset=0, cached=False
    ):
        """Bool `[B|1, Lq, Lk]` for keras `MultiHeadAttention`, or None."""
        allowed = position_mask(q_len, k_len, q_offset, causal, cached)
        allowed = None if allowed is None else allowed[None]
        if padding is not None and not cached:
            # Padded queries see no key (uniform rows), as in relative attention and as
            # keras MultiHeadAttention does when the query carries a Keras mask, so the
            # output is the same whether the padding comes as an argument or a Keras mask.
            padding = ops.cast(padding, "bool")
            allowed = and_masks(allowed, ops.logical_and(padding[:, None, :], padding[:, :, None]))
        return and_masks(allowed, attention_mask)

    def _self_attend(
        self,
        x,
        padding,
        attention_mask,
        training,
        causal=False,
        cache=None,
        cache_update_index=None,
        return_scores=False,
    ):
        """Pre-norm residual self-attention; returns `(x, scores, new_cache)`."""
        normed = self._self_norm(x)
        scores = None
        if self.attention == "relative":
            out = self._self_attention(
                normed,
                query_mask=None if cache is not None else padding,
                attention_mask=attention_mask,
                use_causal_mask=causal,
                cache=cache,
                cache_update_index=cache_update_index,
                return_attention_scores=return_scores,
                training=training,
            )
            out = out if isinstance(out, tuple) else (out,)
            y = out[0]
            scores = out[1] if return_scores else None
            cache = out[-1] if cache is not None else None
        else:
            length = ops.shape(x)[1]
            if cache is None:
                context = normed
                allowed = self._absolute_mask(padding, attention_mask, length, length, causal)
            else:
                # Keras MultiHeadAttention has no key/value cache: cache the normed inputs.
                index = ops.cast(cache_update_index, "int32")
                cache = ops.slice_update(cache, [0, index, 0], ops.cast(normed, cache.dtype))
                context = cache
                allowed = self._absolute_mask(
                    None, attention_mask, length, ops.shape(cache)[1], causal, index, cached=True
                )
            y = self._self_attention(
                normed,
                context,
                context,
                attention_mask=allowed,
                training=training,
                return_attention_scores=return_scores,
            )
            if return_scores:
                y, scores = y
        return x + self._dropout_layer(y, training=training), scores, cache

    def _check_inputs(self, name, x):
        check_sequence(name, x, features=getattr(self, "_features", None))

    def _check_self_masks(self, name, x, padding_masks, attention_name, attention_mask, key_length):
        for mask_name, mask in padding_masks:
            check_mask_shape(mask_name, mask, name, x)
        check_attention_mask(attention_name, attention_mask, name, x, key_length)

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


BLOCK_ARGS = """
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
