"""Pointer attention: additive attention whose softmax over the input positions is the output.

Vinyals, Fortunato & Jaitly 2015, "Pointer Networks" (https://arxiv.org/abs/1506.03134),
eq. 3: `u_j = v^T tanh(W_1 e_j + W_2 d_i)`, `p(C_i | C_1..C_{i-1}, P) = softmax(u)`. Unlike
content attention (`BahdanauAttention`), the alignment is not blended into a context vector:
it is the distribution over which input the decoder points at, so the output dictionary
grows with the input and a model trained on 10 points can be run on 50.

Masked positions (padding, or inputs already pointed at in a permutation task) get a logit
of -1e9 (-1e4 in float16), so their probability is exactly zero while the logits stay finite
for a cross-entropy loss. The query may be one decoder step `[B, d]` or a whole teacher-forced
decoder sequence `[B, T, d]` (one score matrix, no loop).
"""

import keras
from keras import ops

from keras_dlss._validation import (
    check_dims_match,
    check_dtype_kind,
    check_one_of,
    check_positive_int,
    check_rank,
    shapes_compatible,
)
from keras_dlss.layers.attention import _alignment

OUTPUTS = ("probabilities", "log_probabilities", "logits")


def _floor(dtype):
    return -1e4 if dtype == "float16" else -1e9


@keras.saving.register_keras_serializable(package="keras_dlss")
class PointerAttention(keras.layers.Layer):
    """Points at input positions: a masked distribution over the memory's time axis.

    `pointer(query, memory, memory_mask)` scores every memory position `j` against the
    query with `v^T tanh(W_1 m_j + W_2 q)` and returns the softmax over positions (or its
    log, or the masked logits for `from_logits` losses). A decoder that steps one token at a
    time calls `process_memory(memory)` once and then `score(query, keys, memory_mask)`.

    Args:
        units: int. Depth of the hidden scoring layer.
        output_mode: `"probabilities"`, `"log_probabilities"` or `"logits"` (masked positions
            -1e9). Defaults to `"probabilities"`.
        kernel_initializer: initializer of `W_1`, `W_2` and `v`. Defaults to
            `"glorot_uniform"`.
        **kwargs: base `Layer` arguments (`name`, `dtype`...).

    Call arguments:
        query: `[B, query_depth]` (one decoder step) or `[B, T, query_depth]` (a decoder
            sequence) float tensor.
        memory: `[B, N, depth]` float tensor, the encoded inputs.
        memory_mask: optional `[B, N]` (or `[B, T, N]` for a per-step mask, e.g. positions
            already pointed at) bool/int tensor, 1 for positions that may be pointed at.

    Returns:
        `[B, N]` or `[B, T, N]`: a distribution over the `N` positions that is exactly 0 at
        masked positions (its log, or the logits, with `output_mode`). A row whose positions are
        all masked is all zeros (probabilities).

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import PointerAttention

    pointer = PointerAttention(8)
    memory = np.random.rand(2, 5, 4).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    p = pointer(np.random.rand(2, 3, 6).astype("float32"), memory, mask)   # [2, 3, 5]
    print(np.asarray(p).sum(-1))   # ones; p[0, :, 3:] == 0
    ```

    References:
        - [Vinyals et al., 2015](https://arxiv.org/abs/1506.03134)
    """

    def __init__(
        self, units, output_mode="probabilities", kernel_initializer="glorot_uniform", **kwargs
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.output_mode = check_one_of("output_mode", output_mode, OUTPUTS)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, query_shape, memory_shape=None, memory_mask_shape=None):
        if memory_shape is None:
            raise ValueError(
                "PointerAttention needs the memory shape to build. Call it as "
                "`pointer(query, memory)`. Received: memory_shape=None"
            )
        _alignment.add_additive_weights(self, query_shape[-1], memory_shape[-1])
        self._depths = (query_shape[-1], memory_shape[-1])
        self.built = True

    def process_memory(self, memory):
        """Keys `W_1 m` (`[B, N, units]`): computed once per input sequence."""
        return _alignment.additive_keys(self, memory)

    def score(self, query, keys, memory_mask=None):
        """The `output_mode` result of `query` (`[B, d]` or `[B, T, d]`) over processed `keys`."""
        dtype = self.compute_dtype
        logits = _alignment.additive_scores(self, query, keys)
        if memory_mask is not None:
            mask = ops.cast(memory_mask, "bool")
            if len(mask.shape) < len(logits.shape):
                mask = mask[:, None, :]
            logits = ops.where(mask, logits, _floor(dtype))
        if self.output_mode == "logits":
            return logits
        if self.output_mode == "log_probabilities":
            return ops.log_softmax(logits, axis=-1)
        probs = ops.softmax(logits, axis=-1)
        # Exact zeros also when a whole row is masked (the softmax would be uniform there).
        return probs if memory_mask is None else probs * ops.cast(mask, probs.dtype)

    def _validate(self, query, memory, memory_mask):
        if memory is None:
            raise ValueError("PointerAttention: argument `memory` is required. Received: None")
        check_rank("query", query, (2, 3))
        check_dtype_kind("query", query, "floating")
        check_rank("memory", memory, 3)
        check_dtype_kind("memory", memory, "floating")
        check_dims_match("memory", memory, 0, query.shape[0], "the batch size of `query`")
        built = getattr(self, "_depths", None)
        if built is not None:
            check_dims_match("query", query, -1, built[0], "the depth it was built with")
            check_dims_match("memory", memory, -1, built[1], "the depth it was built with")
        if memory_mask is not None:
            shape = tuple(memory_mask.shape)
            options = [(memory.shape[0], memory.shape[1])]
            if len(query.shape) == 3:
                options.append((query.shape[0], query.shape[1], memory.shape[1]))
            if not any(shapes_compatible(shape, o) for o in options):
                raise ValueError(
                    "Argument `memory_mask` must have shape [batch, N] or [batch, T, N] "
                    f"(query {tuple(query.shape)}, memory {tuple(memory.shape)}). "
                    f"Received: memory_mask.shape={shape}"
                )

    def call(self, query, memory=None, memory_mask=None):
        self._validate(query, memory, memory_mask)
        return self.score(query, self.process_memory(memory), memory_mask)

    def compute_output_shape(self, query_shape, memory_shape=None, memory_mask_shape=None):
        return (*tuple(query_shape)[:-1], memory_shape[1])

    def compute_output_spec(self, query, memory=None, memory_mask=None):
        self._validate(query, memory, memory_mask)
        shape = self.compute_output_shape(query.shape, memory.shape)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "output_mode": self.output_mode,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
