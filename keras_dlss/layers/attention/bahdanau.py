"""Additive (Bahdanau) attention over a memory, with optional weight normalization.

Bahdanau, Cho & Bengio 2014, "Neural Machine Translation by Jointly Learning to
Align and Translate" (https://arxiv.org/abs/1409.0473), eq. 6:
`score(q, m_t) = v^T tanh(W_q q + W_m m_t)`. With `normalize=True`, `v` is
reparameterized as `g * v / ||v||` with a bias inside the tanh (Salimans &
Kingma 2016, "Weight Normalization", https://arxiv.org/abs/1602.07868), as in
tensorflow-addons' `BahdanauAttention(normalize=True)`.
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int
from keras_dlss.layers.attention import _alignment


@keras.saving.register_keras_serializable(package="keras_dlss")
class BahdanauAttention(_alignment.AttentionMechanism):
    """Additive attention: context vector and alignments over a masked memory.

    Call it directly, `context, alignments = attention(query, memory,
    memory_mask)`, or hand it to `AttentionWrapper`, which precomputes the
    memory projection `W_m m` once per sequence (`process_memory`) and scores
    each decoder step with `align`.

    Args:
        units: int. Depth of the hidden scoring layer.
        normalize: bool. Weight-normalize the score vector `v` (with a learned
            gain and a bias). Defaults to `False`.
        kernel_initializer: initializer of `W_q`, `W_m` and `v`. Defaults to
            `"glorot_uniform"`.
        **kwargs: base `Layer` arguments (`name`, `dtype`...).

    Call arguments:
        query: `[B, query_depth]` tensor (the decoder state).
        memory: `[B, T, depth]` tensor (the encoder outputs).
        memory_mask: optional `[B, T]` bool/int tensor, 1 for real positions.
            Masked positions get exactly zero weight. Filled in by Keras from
            `memory`'s Keras mask.
        mask: optional Keras-style `[query_mask, memory_mask]` list, the
            alternative to `memory_mask`.

    Returns:
        `(context, alignments)`: `[B, depth]` and `[B, T]`; alignments sum to
        1 over unmasked positions.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import BahdanauAttention

    attention = BahdanauAttention(16, normalize=True)
    memory = np.random.rand(2, 5, 8).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    context, alignments = attention(np.random.rand(2, 4).astype("float32"), memory, mask)
    ```

    References:
        - [Bahdanau et al., 2014](https://arxiv.org/abs/1409.0473)
        - [Salimans & Kingma, 2016](https://arxiv.org/abs/1602.07868)
    """

    def __init__(self, units, normalize=False, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.normalize = bool(normalize)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, query_shape, memory_shape=None, memory_mask_shape=None):
        query_shape, memory_shape = _alignment.unpack_shapes(query_shape, memory_shape)
        _alignment.check_memory_shapes("BahdanauAttention", query_shape, memory_shape)
        self._depths = (query_shape[-1], memory_shape[-1])
        _alignment.add_additive_weights(self, query_shape[-1], memory_shape[-1])
        if self.normalize:
            self.score_gain = self.add_weight(
                name="score_gain",
                shape=(),
                initializer=keras.initializers.Constant((1.0 / self.units) ** 0.5),
            )
            self.score_bias = self.add_weight(
                name="score_bias", shape=(self.units,), initializer="zeros"
            )
        self.built = True

    def process_memory(self, memory):
        """Memory keys `W_m m` ([B, T, units]); computed once per sequence."""
        return _alignment.additive_keys(self, memory)

    def align(self, query, keys, memory_mask=None):
        """Alignments [B, T] of `query` ([B, query_depth]) over processed keys."""
        v = bias = None
        if self.normalize:
            dtype = self.compute_dtype
            v = ops.cast(self.score_vector, dtype)
            v = ops.cast(self.score_gain, dtype) * v * ops.rsqrt(ops.sum(ops.square(v)))
            bias = ops.cast(self.score_bias, dtype)
        scores = _alignment.additive_scores(self, query, keys, v=v, bias=bias)
        return _alignment.masked_softmax(scores, memory_mask)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "normalize": self.normalize,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


BahdanauAttention.__doc__ = BahdanauAttention.__doc__.replace(
    "\n    Args:", _alignment.CALL_CONVENTION + "\n    Args:", 1
)
