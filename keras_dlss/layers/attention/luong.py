"""Multiplicative (Luong) attention: `dot`, `general` and `concat` scores.

Luong, Pham & Manning 2015, "Effective Approaches to Attention-based Neural
Machine Translation" (https://arxiv.org/abs/1508.04025), eq. 8:
`dot`: q^T m_t; `general`: q^T W_a m_t; `concat`: v^T tanh(W_a [q; m_t]).
`scale=True` multiplies the score by a learned scalar, initialized to 1, as in
tensorflow-addons' `LuongAttention(scale=True)`.
"""

import keras
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int
from keras_dlss.layers.attention import _alignment

_MODES = ("dot", "general", "concat")


@keras.saving.register_keras_serializable(package="keras_dlss")
class LuongAttention(_alignment.AttentionMechanism):
    """Luong attention: context vector and alignments over a masked memory.

    Args:
        score: str. `"dot"` (needs `query_depth == memory depth`),
            `"general"` or `"concat"`. Defaults to `"general"`.
        units: int or None. Hidden depth of the `"concat"` score; None uses the
            query depth. Ignored by the other scores. Defaults to `None`.
        scale: bool. Multiply scores by a learned scalar. Defaults to `False`.
        kernel_initializer: initializer of the score weights. Defaults to
            `"glorot_uniform"`.
        **kwargs: base `Layer` arguments (`name`, `dtype`...).

    Call arguments:
        query: `[B, query_depth]` tensor (the decoder output `h_t`).
        memory: `[B, T, depth]` tensor.
        memory_mask: optional `[B, T]` bool/int tensor, 1 for real positions.
            Masked positions get exactly zero weight. Filled in by Keras from
            `memory`'s Keras mask.
        mask: optional Keras-style `[query_mask, memory_mask]` list, the
            alternative to `memory_mask`.

    Returns:
        `(context, alignments)`: `[B, depth]` and `[B, T]`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import LuongAttention

    attention = LuongAttention("general", scale=True)
    memory = np.random.rand(2, 5, 8).astype("float32")
    context, alignments = attention(np.random.rand(2, 4).astype("float32"), memory)
    ```

    References:
        - [Luong et al., 2015](https://arxiv.org/abs/1508.04025)
    """

    def __init__(
        self,
        score="general",
        units=None,
        scale=False,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.score = check_one_of("score", score, _MODES)
        self.units = None if units is None else check_positive_int("units", units)
        self.scale = bool(scale)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, query_shape, memory_shape=None, memory_mask_shape=None):
        query_shape, memory_shape = _alignment.unpack_shapes(query_shape, memory_shape)
        _alignment.check_memory_shapes("LuongAttention", query_shape, memory_shape)
        self._depths = (query_shape[-1], memory_shape[-1])
        q_depth, m_depth = query_shape[-1], memory_shape[-1]
        init = self.kernel_initializer
        if self.score == "dot" and q_depth != m_depth:
            raise ValueError(
                "LuongAttention(score='dot') needs query and memory of the same depth. "
                f"Received: query.shape={tuple(query_shape)}, memory.shape={tuple(memory_shape)}"
            )
        if self.score == "general":
            self.memory_kernel = self.add_weight(
                name="memory_kernel", shape=(m_depth, q_depth), initializer=init
            )
        if self.score == "concat":
            units = self.units or q_depth
            self.query_kernel = self.add_weight(
                name="query_kernel", shape=(q_depth, units), initializer=init
            )
            self.memory_kernel = self.add_weight(
                name="memory_kernel", shape=(m_depth, units), initializer=init
            )
            self.score_vector = self.add_weight(
                name="score_vector", shape=(units,), initializer=init
            )
        if self.scale:
            self.score_scale = self.add_weight(name="score_scale", shape=(), initializer="ones")
        self.built = True

    def process_memory(self, memory):
        """Memory keys: `m` (dot), `m W_a^T` (general), `W_m m` (concat)."""
        memory = ops.cast(memory, self.compute_dtype)
        if self.score == "dot":
            return memory
        return ops.matmul(memory, ops.cast(self.memory_kernel, self.compute_dtype))

    def align(self, query, keys, memory_mask=None):
        """Alignments [B, T] of `query` ([B, query_depth]) over processed keys."""
        dtype = self.compute_dtype
        query = ops.cast(query, dtype)
        if self.score == "concat":
            projected = ops.matmul(query, ops.cast(self.query_kernel, dtype))
            hidden = ops.tanh(keys + projected[:, None, :])
            scores = ops.sum(hidden * ops.cast(self.score_vector, dtype), axis=-1)
        else:
            scores = ops.einsum("btd,bd->bt", keys, query)
        if self.scale:
            scores = scores * ops.cast(self.score_scale, dtype)
        return _alignment.masked_softmax(scores, memory_mask)

    def get_config(self):
        return {
            **super().get_config(),
            "score": self.score,
            "units": self.units,
            "scale": self.scale,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


LuongAttention.__doc__ = LuongAttention.__doc__.replace(
    "\n    Args:", _alignment.CALL_CONVENTION + "\n    Args:", 1
)
