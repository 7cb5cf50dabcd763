"""`PointerGenerator`: the soft switch between generating a word and copying one.

See et al. 2017 ("Get To The Point", https://arxiv.org/abs/1704.04368, eq. 8-9):

    p_gen = sigmoid(w_c . c_t + w_s . s_t + w_x . x_t + b)
    P(w)  = p_gen * P_vocab(w) + (1 - p_gen) * sum_{i : x_i = w} a_t[i]

over the vocabulary extended by each example's source OOVs (see
`keras_dlss.ops.extend_vocabulary`). The mixture is `keras_dlss.ops.final_distribution`.
"""

import keras
from keras import ops

from keras_dlss._validation import check_dims_match, check_positive_int, check_rank
from keras_dlss.ops.pointer_generator import final_distribution, precise_dtype


@keras.saving.register_keras_serializable(package="keras_dlss")
class PointerGenerator(keras.layers.Layer):
    """Copy gate and final distribution of a pointer-generator decoder step.

    Call it with one decoder step (`[B, d]` tensors, attention `[B, S]`) or a
    whole teacher-forced sequence (`[B, T, d]`, attention `[B, T, S]`).

    Args:
        max_oovs: int >= 1. Extended vocabulary slots per example: the output
            covers `V + max_oovs` ids, `V` being the last axis of `vocab_logits`.
        kernel_initializer: initializer of `w_c`, `w_s`, `w_x`. Defaults to
            `"glorot_uniform"`.
        bias_initializer: initializer of `b`. Defaults to `"zeros"`.
        **kwargs: base `Layer` arguments.

    Call arguments:
        vocab_logits: `[..., V]` logits of the closed vocabulary.
        attention: `[..., S]` attention over the source positions.
        context: `[..., d_c]` context vector `c_t`.
        decoder_state: `[..., d_s]` decoder state `s_t` (or its output).
        decoder_input: `[..., d_x]` decoder input embedding `x_t`.
        source_ids: `[B, S]` integer extended ids of the source positions.
        memory_mask: optional `[B, S]`, 1 for real source positions.

    Returns:
        `[..., V + max_oovs]` float32 log-probabilities under any float16,
        bfloat16 or float32 policy (they feed a loss or a decoder); float64
        under a float64 policy.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import PointerGenerator

    layer = PointerGenerator(max_oovs=3)
    log_p = layer(np.random.rand(2, 10).astype("float32"),            # V = 10
                  attention=np.full((2, 4), 0.25, "float32"),
                  context=np.random.rand(2, 6).astype("float32"),
                  decoder_state=np.random.rand(2, 8).astype("float32"),
                  decoder_input=np.random.rand(2, 5).astype("float32"),
                  source_ids=np.array([[4, 10, 11, 10], [1, 2, 3, 0]]),
                  memory_mask=np.array([[1, 1, 1, 1], [1, 1, 1, 0]]))
    print(log_p.shape)  # (2, 13); exp(log_p) sums to 1 per row
    ```

    References:
        - [See et al., 2017](https://arxiv.org/abs/1704.04368)
        - [Gulcehre et al., 2016](https://arxiv.org/abs/1603.08148)
    """

    def __init__(
        self,
        max_oovs,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.max_oovs = check_positive_int("max_oovs", max_oovs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, vocab_logits_shape, context_shape, decoder_state_shape, decoder_input_shape):
        for name, shape in (
            ("context", context_shape),
            ("decoder_state", decoder_state_shape),
            ("decoder_input", decoder_input_shape),
        ):
            if shape[-1] is None:
                raise ValueError(
                    f"Argument `{name}` must have a known last dimension. "
                    f"Received: {name}.shape={tuple(shape)}"
                )
        self.context_kernel = self.add_weight(
            shape=(context_shape[-1], 1), initializer=self.kernel_initializer, name="context_kernel"
        )
        self.state_kernel = self.add_weight(
            shape=(decoder_state_shape[-1], 1),
            initializer=self.kernel_initializer,
            name="state_kernel",
        )
        self.input_kernel = self.add_weight(
            shape=(decoder_input_shape[-1], 1),
            initializer=self.kernel_initializer,
            name="input_kernel",
        )
        self.bias = self.add_weight(shape=(1,), initializer=self.bias_initializer, name="bias")
        self.built = True

    def gate(self, context, decoder_state, decoder_input):
        """`p_gen` (`[..., 1]`), the probability of generating rather than copying."""
        logit = (
            ops.matmul(context, ops.cast(self.context_kernel, context.dtype))
            + ops.matmul(decoder_state, ops.cast(self.state_kernel, decoder_state.dtype))
            + ops.matmul(decoder_input, ops.cast(self.input_kernel, decoder_input.dtype))
        )
        dtype = precise_dtype(logit.dtype)
        return ops.sigmoid(ops.cast(logit, dtype) + ops.cast(self.bias, dtype))

    def call(
        self,
        vocab_logits,
        attention,
        context,
        decoder_state,
        decoder_input,
        source_ids,
        memory_mask=None,
    ):
        rank = len(vocab_logits.shape)
        check_rank("vocab_logits", vocab_logits, (2, 3))
        for name, x in (
            ("context", context),
            ("decoder_state", decoder_state),
            ("decoder_input", decoder_input),
        ):
            check_rank(name, x, rank)
            check_dims_match(name, x, 0, vocab_logits.shape[0], "the batch size of `vocab_logits`")
        p_gen = self.gate(context, decoder_state, decoder_input)
        p_vocab = ops.softmax(ops.cast(vocab_logits, precise_dtype(vocab_logits.dtype)), axis=-1)
        return final_distribution(
            p_vocab,
            attention,
            source_ids,
            p_gen,
            vocab_logits.shape[-1] + self.max_oovs,
            mask=memory_mask,
        )

    def compute_output_shape(self, vocab_logits_shape, *args, **kwargs):
        return (*vocab_logits_shape[:-1], vocab_logits_shape[-1] + self.max_oovs)

    def compute_output_spec(self, vocab_logits, *args, **kwargs):
        shape = self.compute_output_shape(tuple(vocab_logits.shape))
        return keras.KerasTensor(shape, dtype=precise_dtype(vocab_logits.dtype))

    def get_config(self):
        return {
            **super().get_config(),
            "max_oovs": self.max_oovs,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
