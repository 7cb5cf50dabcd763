"""Pre-norm Transformer decoder block: causal self-attention, cross-attention, feed-forward.

Without an encoder sequence it is the decoder-only block of the Music
Transformer; with one, the decoder of Vaswani et al. The shared pre-norm
layout lives in `keras_dlss.layers._transformer_block`.

Arguments follow `keras_hub.layers.TransformerDecoder`; our earlier names
(`memory`, `mask`, `memory_mask`, `cache`, `cache_update_index`) stay accepted
as aliases so code written against them keeps working, and passing both
spellings of one argument is an error rather than a silent choice.

References:
    - Vaswani et al., "Attention Is All You Need", 2017.
      https://arxiv.org/abs/1706.03762
    - Huang et al., "Music Transformer", 2018. https://arxiv.org/abs/1809.04281
"""

import keras
from keras import ops

from keras_dlss._validation import check_mask_shape
from keras_dlss.layers._attention_checks import (
    check_attention_mask,
    check_cache,
    check_sequence,
    check_sequence_shape,
)
from keras_dlss.layers._attention_masks import and_masks
from keras_dlss.layers._transformer_block import BLOCK_ARGS, TransformerBlock

__all__ = ["TransformerDecoderBlock"]


def _alias(new_name, new, old_name, old):
    """Resolves a keras-hub argument and our older alias of it (at most one given)."""
    if new is not None and old is not None:
        raise ValueError(
            f"Arguments `{new_name}` and `{old_name}` are aliases; pass only one. "
            f"Received: both {new_name} and {old_name}"
        )
    return (new_name, new) if new is not None else (old_name, old)


@keras.saving.register_keras_serializable(package="keras_dlss")
class TransformerDecoderBlock(TransformerBlock):
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
            check_sequence_shape("encoder_sequence", encoder_sequence_shape)
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
            batch = x.shape[0]
            check_sequence(memory_name, memory, batch, "decoder_sequence", self._encoder_features)
            padding_name, padding = args["encoder_padding_mask"]
            check_mask_shape(padding_name, padding, memory_name, memory)
            check_attention_mask(
                "encoder_attention_mask",
                kw["encoder_attention_mask"],
                "decoder_sequence",
                x,
                memory.shape[1],
                "the length of `encoder_sequence`",
            )
        return {new: value for new, (_, value) in args.items()}

    def _check_cache(self, name, cache, x, index_name, index):
        layout = {0: (x.shape[0], "the batch size of `decoder_sequence`")}
        if self.attention == "relative":
            expected = {1: 2, 3: self.num_heads, 4: self._head_dim}
        else:
            expected = {2: self._features}
        layout.update({axis: (dim, "`initial_cache`'s layout") for axis, dim in expected.items()})
        rank = 5 if self.attention == "relative" else 3
        check_cache(name, cache, rank, layout, index_name, index)

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
            allowed = and_masks(encoder_attention_mask, None)
            padding = args["encoder_padding_mask"]
            if padding is not None:
                allowed = and_masks(allowed, ops.cast(padding, "bool")[:, None, :])
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


TransformerDecoderBlock.__doc__ = TransformerDecoderBlock.__doc__.format(args=BLOCK_ARGS)
