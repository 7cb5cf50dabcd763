"""The attention flow layer of BiDAF (Seo et al. 2017, Sec. 2.4).

A thin layer over `keras_dlss.ops.bidirectional_attention_flow`: it owns the similarity
weight `w` (Eq. 1, `[3d]`) and turns Keras masks into the two padding masks. It returns
`G = [h; u~; h o u~; h o h~]` per context word (Eq. 4) and passes the context mask on, so
the modelling LSTMs that follow skip context padding. The attentions themselves are not
outputs (layers return tensors, not diagnostics): `attention_weights()` computes them.
"""

import keras

from keras_dlss._validation import check_mask_shape
from keras_dlss.ops.bidirectional_attention_flow import bidaf_attention


def _masks(mask):
    if mask is None:
        return None, None
    if not isinstance(mask, (list, tuple)) or len(mask) != 2:
        raise ValueError(
            "Argument `mask` must be a list [context_mask, query_mask] (either may be None). "
            f"Received: mask={mask!r}"
        )
    return mask[0], mask[1]


@keras.saving.register_keras_serializable(package="keras_dlss")
class BiDAFAttention(keras.layers.Layer):
    """Bidirectional attention flow: context-to-query and query-to-context attention.

    Similarity `S_tj = w^T [h_t; u_j; h_t o u_j]`; context-to-query attention
    `u~_t = sum_j softmax_j(S_t:)_j u_j`; query-to-context attention
    `h~ = sum_t softmax_t(max_j S_tj) h_t`, tiled over time; the output is
    `G_t = [h_t; u~_t; h_t o u~_t; h_t o h~]`. Query padding never receives
    context-to-query attention nor enters the max; context padding never receives
    query-to-context attention.

    Args:
        kernel_initializer: Initializer of the `[3d]` similarity weight `w`.
            Defaults to `"glorot_uniform"`.

    Call arguments:
        inputs: list `[context, query]`: `[batch, T, d]` and `[batch, J, d]` floats
            (contextual embeddings `H` and `U`; the paper's `d` is `2 x` LSTM units).
        mask: optional list `[context_mask, query_mask]` of `[batch, T]` and
            `[batch, J]` bools (either may be None); Keras fills it from masking layers.

    Returns:
        `[batch, T, 4d]` floats `G`; its Keras mask is the context mask.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import BiDAFAttention

    context = np.random.rand(2, 7, 6).astype("float32")
    query = np.random.rand(2, 4, 6).astype("float32")
    layer = BiDAFAttention()
    print(layer([context, query]).shape)                      # (2, 7, 24)
    c2q, q2c = layer.attention_weights([context, query])
    print(c2q.shape, q2c.shape)                               # (2, 7, 4) (2, 7)
    ```

    References:
        Seo et al. 2017, "Bidirectional Attention Flow for Machine Comprehension",
        https://arxiv.org/abs/1611.01603.
    """

    def __init__(self, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def _check(self, context_shape, query_shape):
        for name, shape in (("context", context_shape), ("query", query_shape)):
            if len(shape) != 3:
                raise ValueError(
                    f"Argument `inputs` must be [context, query] of rank 3 each. "
                    f"Received: {name}.shape={tuple(shape)}"
                )
        if context_shape[-1] is None or (
            query_shape[-1] is not None and query_shape[-1] != context_shape[-1]
        ):
            raise ValueError(
                "Argument `inputs` must be [context, query] with one static feature size d. "
                f"Received: context.shape={tuple(context_shape)}, query.shape={tuple(query_shape)}"
            )

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(
                f"Argument `inputs` must be a list [context, query]. Received: input_shape={input_shape}"
            )
        context_shape, query_shape = (tuple(s) for s in input_shape)
        self._check(context_shape, query_shape)
        self.kernel = self.add_weight(
            name="kernel", shape=(3 * context_shape[-1],), initializer=self.kernel_initializer
        )

    def _run(self, inputs, mask):
        context, query = inputs
        self._check(tuple(context.shape), tuple(query.shape))
        context_mask, query_mask = _masks(mask)
        check_mask_shape("mask", context_mask, "context", context)
        check_mask_shape("mask", query_mask, "query", query)
        return bidaf_attention(context, query, self.kernel, context_mask, query_mask)

    def call(self, inputs, mask=None):
        return self._run(inputs, mask)[0]

    def attention_weights(self, inputs, mask=None):
        """`(c2q [batch, T, J], q2c [batch, T])`: both attentions for `inputs` and `mask`."""
        if not self.built:
            self.build([tuple(x.shape) for x in inputs])
        return self._run(inputs, mask)[1:]

    def compute_mask(self, inputs, mask=None):
        return _masks(mask)[0]

    def compute_output_shape(self, input_shape):
        context_shape = tuple(input_shape[0])
        return (*context_shape[:2], 4 * context_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
