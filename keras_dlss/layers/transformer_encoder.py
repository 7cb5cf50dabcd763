"""Pre-norm Transformer encoder block: bidirectional self-attention and a feed-forward network.

See `keras_dlss.layers._transformer_block` for the shared pre-norm layout.

References:
    - Vaswani et al., "Attention Is All You Need", 2017.
      https://arxiv.org/abs/1706.03762
    - Shaw et al., "Self-Attention with Relative Position Representations",
      2018. https://arxiv.org/abs/1803.02155
"""

import keras

from keras_dlss.layers._attention_masks import and_masks
from keras_dlss.layers._transformer_block import BLOCK_ARGS, TransformerBlock

__all__ = ["TransformerEncoderBlock"]


@keras.saving.register_keras_serializable(package="keras_dlss")
class TransformerEncoderBlock(TransformerBlock):
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
            and_masks(padding_mask, mask),
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


TransformerEncoderBlock.__doc__ = TransformerEncoderBlock.__doc__.format(args=BLOCK_ARGS)
