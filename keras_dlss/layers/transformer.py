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

from keras_dlss._validation import (
    check_dims_match,
    check_dtype_kind,
    check_mask_shape,
    check_one_of,
    check_positive_int,
    check_range,
    check_rank,
)
from keras_dlss.layers.relative_attention import RelativeMultiHeadAttention

__all__ = ["TransformerEncoderBlock", "TransformerDecoderBlock"]


def _and(a, b):
    """Logical and of two optional masks (None = everything allowed)."""
    if a is None or b is None:
        return b if a is None else ops.cast(a, "bool")
    return ops.logical_and(ops.cast(a, "bool"), ops.cast(b, "bool"))


def _alias(new_name, new, old_name, old):
    """Resolves a keras-hub argument and our older alias of it (at most one given)."""
    if new is not None and old is not None:
        raise ValueError(
            f"Arguments `{new_name}` and `{old_name}` are aliases; pass only one. "
            f"Received: both {new_name} and {old_name}"
        )
    return (new_name, new) if new is not None else (old_name, old)


class _TransformerBlock(keras.layers.Layer):
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
        if len(inputs_shape) != 3:
            raise ValueError(
                f"Argument `{name}` must have rank 3 ([batch, length, features]). "
                f"Received: {name}.shape={tuple(inputs_shape)}"
            )
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
        allowed = None
        if causal or cached:
            q_pos = ops.arange(q_len, dtype="int32")[:, None] + q_offset
            k_pos = ops.arange(k_len, dtype="int32")[None, :]
            last = q_pos if causal else q_offset + q_len - 1
            allowed = ops.less_equal(k_pos, last)[None]
        if padding is not None and not cached:
            allowed = _and(allowed, ops.cast(padding, "bool")[:, None, :])
        if attention_mask is not None:
            allowed = _and(allowed, ops.cast(attention_mask, "bool"))
        return allowed

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
        check_rank(name, x, 3)
        check_dtype_kind(name, x, "floating")
        if getattr(self, "_features", None) is not None:
            check_dims_match(name, x, -1, self._features, "the features it was built with")

    def _check_self_masks(self, name, x, padding_masks, attention_name, attention_mask, key_length):
        for mask_name, mask in padding_masks:
            check_mask_shape(mask_name, mask, name, x)
        if attention_mask is not None:
            check_rank(attention_name, attention_mask, 3)
            for axis, dim, desc in (
                (0, x.shape[0], f"the batch size of `{name}`"),
                (1, x.shape[1], f"the length of `{name}`"),
                (2, key_length, "the key length"),
            ):
                check_dims_match(attention_name, attention_mask, axis, dim, desc)

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
    `x + Dropout(FFN(LayerNorm(x)))`. A padding mask `[B, T]` hides padded
    keys and is propagated.

    The call follows `keras_hub.layers.TransformerEncoder` (`padding_mask`,
    `attention_mask`, `return_attention_scores`). Deliberate differences:
    normalization is pre-norm (keras-hub defaults to post-norm), attention is
    relative by default, and `mask=` (the Keras mask of `inputs`, filled in by
    Keras) is accepted as an alias of `padding_mask`; keras-hub reads
    `inputs._keras_mask` instead.
    {args}
    Call arguments:
        inputs: float `[B, T, F]`.
        padding_mask: optional `[B, T]` mask, True (or 1) for real tokens.
        attention_mask: optional bool `[B, T, T]` (True = may attend),
            combined with the padding mask.
        training: bool.
        return_attention_scores: bool. Also return the self-attention
            probabilities `[B, num_heads, T, T]`. Defaults to `False`.
        mask: optional `[B, T]`, an alias of `padding_mask`.

    Returns:
        `[B, T, F]`, or `(outputs, scores)` with `return_attention_scores`.

    Example:

    ```python
    block = TransformerEncoderBlock(num_heads=4, intermediate_dim=128)
    x = keras.random.normal((2, 16, 64))
    y = block(x, padding_mask=keras.ops.arange(16)[None] < [[16], [9]])  # (2, 16, 64)
    ```

    References:
        Vaswani et al., 2017, https://arxiv.org/abs/1706.03762;
        Shaw et al., 2018, https://arxiv.org/abs/1803.02155.
    """

    def build(self, inputs_shape):
        self._build_self_attention_and_ffn(inputs_shape)

    def _validate(self, inputs, padding_mask, attention_mask, mask):
        self._check_inputs("inputs", inputs)
        self._check_self_masks(
            "inputs",
            inputs,
            (("padding_mask", padding_mask), ("mask", mask)),
            "attention_mask",
            attention_mask,
            inputs.shape[1],
        )

    def call(
        self,
        inputs,
        padding_mask=None,
        attention_mask=None,
        training=None,
        return_attention_scores=False,
        mask=None,
    ):
        self._validate(inputs, padding_mask, attention_mask, mask)
        x, scores, _ = self._self_attend(
            inputs,
            _and(padding_mask, mask),
            attention_mask,
            training,
            return_scores=return_attention_scores,
        )
        outputs = self._feedforward(x, training)
        return (outputs, scores) if return_attention_scores else outputs

    def compute_output_spec(
        self,
        inputs,
        padding_mask=None,
        attention_mask=None,
        training=None,
        return_attention_scores=False,
        mask=None,
    ):
        self._validate(inputs, padding_mask, attention_mask, mask)
        outputs = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if not return_attention_scores:
            return outputs
        b, t = inputs.shape[0], inputs.shape[1]
        return outputs, keras.KerasTensor((b, self.num_heads, t, t), dtype=self.compute_dtype)


@keras.saving.register_keras_serializable(package="keras_dlss")
class TransformerDecoderBlock(_TransformerBlock):
    """Pre-norm Transformer decoder block (causal self-attention, cross-attention, FFN).

    Causal self-attention (relative or absolute), then, when `encoder_sequence`
    (alias `memory`) is given, cross-attention to it with
    `keras.layers.MultiHeadAttention`, then the feed-forward network. Without
    an encoder sequence it is the decoder-only block of the Music Transformer.
    A block built with an encoder sequence must always be called with one.

    For generation, pass `self_attention_cache` (alias `cache`, from
    `initial_cache`) and `self_attention_cache_update_index` (alias
    `cache_update_index`); the block returns `(outputs, new_cache)` and
    step-by-step outputs equal the full forward pass.

    The call follows `keras_hub.layers.TransformerDecoder`. Deliberate
    differences: pre-norm; relative self-attention by default (its table only
    embeds distances `<= 0`, so `use_causal_mask=False` needs
    `attention="absolute"`); no cross-attention cache (the encoder keys are
    recomputed each step); with `attention="absolute"` the cache holds the
    normed inputs `[B, S, F]` instead of keys and values; decoder padding
    masks are ignored with a cache (use `decoder_attention_mask`
    `[B, T, S]`). Our earlier names stay accepted as aliases: `memory`
    (`encoder_sequence`), `mask` (`decoder_padding_mask`, also the Keras mask
    of the decoder sequence), `memory_mask` (`encoder_padding_mask`), `cache`
    and `cache_update_index`.
    {args}
    Call arguments:
        decoder_sequence: float `[B, T, F]`.
        encoder_sequence: optional float `[B, S, F_m]` encoder outputs.
        decoder_padding_mask: optional `[B, T]` padding mask of the decoder.
        decoder_attention_mask: optional bool `[B, T, T]` (`[B, T, S_cache]`
            with a cache), combined with the causal and padding masks.
        encoder_padding_mask: optional `[B, S]` padding mask of the encoder.
        encoder_attention_mask: optional bool `[B, T, S]`.
        self_attention_cache: optional cache from
            `initial_cache(batch_size, max_length)`.
        self_attention_cache_update_index: int or scalar int tensor, position
            of `decoder_sequence[:, 0]`.
        use_causal_mask: bool. Defaults to `True`.
        training: bool.
        memory, mask, memory_mask, cache, cache_update_index: aliases (above).

    Returns:
        `[B, T, F]`, or `(outputs, new_cache)` when a cache is given.

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

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None, memory_shape=None):
        self._build_self_attention_and_ffn(decoder_sequence_shape, "decoder_sequence")
        if encoder_sequence_shape is None:
            encoder_sequence_shape = memory_shape
        self._cross_attention = None
        self._encoder_features = None
        if encoder_sequence_shape is not None:
            if len(encoder_sequence_shape) != 3:
                raise ValueError(
                    "Argument `encoder_sequence` must have rank 3 ([batch, length, features]). "
                    f"Received: encoder_sequence.shape={tuple(encoder_sequence_shape)}"
                )
            self._encoder_features = encoder_sequence_shape[-1]
            self._cross_norm = self._norm("cross_attention_norm", decoder_sequence_shape)
            self._cross_attention = keras.layers.MultiHeadAttention(
                self.num_heads,
                self._head_dim,
                dropout=self.dropout,
                kernel_initializer=self._initializer(),
                dtype=self.dtype_policy,
                name="cross_attention",
            )
            self._cross_attention.build(decoder_sequence_shape, encoder_sequence_shape)

    def build_from_config(self, config):
        shapes = dict((config or {}).get("shapes_dict") or {})
        if "inputs_shape" in shapes:  # saved before the keras-hub argument names
            shapes["decoder_sequence_shape"] = shapes.pop("inputs_shape")
            return self.build(**shapes)
        return super().build_from_config(config)

    def _resolve(self, kw):
        """Merges each keras-hub argument with its older alias; validates shapes."""
        pairs = (
            ("encoder_sequence", "memory"),
            ("decoder_padding_mask", "mask"),
            ("encoder_padding_mask", "memory_mask"),
            ("self_attention_cache", "cache"),
            ("self_attention_cache_update_index", "cache_update_index"),
        )
        args = {new: _alias(new, kw[new], old, kw[old]) for new, old in pairs}
        x = kw["decoder_sequence"]
        self._check_inputs("decoder_sequence", x)
        memory_name, memory = args["encoder_sequence"]
        cache_name, cache = args["self_attention_cache"]
        index_name, index = args["self_attention_cache_update_index"]
        if (memory is None) != (self._cross_attention is None):
            raise ValueError(
                f"Argument `{memory_name}` must be given if and only if the block was built "
                "with an encoder sequence. Received: "
                f"{memory_name}={'None' if memory is None else tuple(memory.shape)}"
            )
        if cache is not None:
            self._check_cache(cache_name, cache, x, index_name, index)
        if not kw["use_causal_mask"] and self.attention == "relative":
            raise ValueError(
                "Argument `use_causal_mask` must be True with attention='relative' (the "
                "decoder's relative table only embeds distances <= 0); use "
                "`TransformerEncoderBlock` or attention='absolute'. "
                "Received: use_causal_mask=False"
            )
        key_length = (
            x.shape[1] if cache is None else cache.shape[-3 if self.attention == "relative" else 1]
        )
        self._check_self_masks(
            "decoder_sequence",
            x,
            (args["decoder_padding_mask"],),
            "decoder_attention_mask",
            kw["decoder_attention_mask"],
            key_length,
        )
        if memory is not None:
            check_rank(memory_name, memory, 3)
            check_dtype_kind(memory_name, memory, "floating")
            check_dims_match(
                memory_name, memory, 0, x.shape[0], "the batch size of `decoder_sequence`"
            )
            check_dims_match(
                memory_name, memory, -1, self._encoder_features, "the features it was built with"
            )
            padding_name, padding = args["encoder_padding_mask"]
            check_mask_shape(padding_name, padding, memory_name, memory)
            self._check_cross_mask(kw["encoder_attention_mask"], x, memory)
        return {new: value for new, (_, value) in args.items()}

    def _check_cache(self, name, cache, x, index_name, index):
        rank = 5 if self.attention == "relative" else 3
        check_rank(name, cache, rank)
        check_dtype_kind(name, cache, "floating")
        check_dims_match(name, cache, 0, x.shape[0], "the batch size of `decoder_sequence`")
        if self.attention == "relative":
            expected = {1: 2, 3: self.num_heads, 4: self._head_dim}
        else:
            expected = {2: self._features}
        for axis, dim in expected.items():
            check_dims_match(name, cache, axis, dim, "`initial_cache`'s layout")
        if index is None:
            raise ValueError(
                f"Argument `{index_name}` is required with `{name}`. Received: {index_name}=None"
            )
        if hasattr(index, "shape"):
            check_rank(index_name, index, 0)
            check_dtype_kind(index_name, index, "integer")

    def _check_cross_mask(self, attention_mask, x, memory):
        if attention_mask is None:
            return
        name = "encoder_attention_mask"
        check_rank(name, attention_mask, 3)
        for axis, dim, desc in (
            (0, x.shape[0], "the batch size of `decoder_sequence`"),
            (1, x.shape[1], "the length of `decoder_sequence`"),
            (2, memory.shape[1], "the length of `encoder_sequence`"),
        ):
            check_dims_match(name, attention_mask, axis, dim, desc)

    def call(
        self,
        decoder_sequence,
        encoder_sequence=None,
        decoder_padding_mask=None,
        decoder_attention_mask=None,
        encoder_padding_mask=None,
        encoder_attention_mask=None,
        self_attention_cache=None,
        self_attention_cache_update_index=None,
        use_causal_mask=True,
        training=None,
        memory=None,
        mask=None,
        memory_mask=None,
        cache=None,
        cache_update_index=None,
    ):
        args = self._resolve(locals())
        memory = args["encoder_sequence"]
        cache = args["self_attention_cache"]
        x, _, new_cache = self._self_attend(
            decoder_sequence,
            args["decoder_padding_mask"],
            decoder_attention_mask,
            training,
            causal=bool(use_causal_mask),
            cache=cache,
            cache_update_index=args["self_attention_cache_update_index"],
        )
        if memory is not None:
            allowed = _and(encoder_attention_mask, None)
            padding = args["encoder_padding_mask"]
            if padding is not None:
                allowed = _and(allowed, ops.cast(padding, "bool")[:, None, :])
                allowed = ops.broadcast_to(
                    allowed, (ops.shape(x)[0], ops.shape(x)[1], ops.shape(memory)[1])
                )
            y = self._cross_attention(
                self._cross_norm(x), memory, memory, attention_mask=allowed, training=training
            )
            x = x + self._dropout_layer(y, training=training)
        outputs = self._feedforward(x, training)
        return outputs if cache is None else (outputs, new_cache)

    def compute_output_spec(
        self,
        decoder_sequence,
        encoder_sequence=None,
        decoder_padding_mask=None,
        decoder_attention_mask=None,
        encoder_padding_mask=None,
        encoder_attention_mask=None,
        self_attention_cache=None,
        self_attention_cache_update_index=None,
        use_causal_mask=True,
        training=None,
        memory=None,
        mask=None,
        memory_mask=None,
        cache=None,
        cache_update_index=None,
    ):
        args = self._resolve(locals())
        outputs = keras.KerasTensor(decoder_sequence.shape, dtype=self.compute_dtype)
        cache = args["self_attention_cache"]
        if cache is None:
            return outputs
        return outputs, keras.KerasTensor(cache.shape, dtype=cache.dtype)


TransformerEncoderBlock.__doc__ = TransformerEncoderBlock.__doc__.format(args=_BLOCK_ARGS)
TransformerDecoderBlock.__doc__ = TransformerDecoderBlock.__doc__.format(args=_BLOCK_ARGS)
