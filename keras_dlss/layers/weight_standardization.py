"""Weight-standardized 2D convolution.

Qiao, Wang, Liu, Shen and Yuille, "Micro-Batch Training with Batch-Channel
Normalization and Weight Standardization", 2019 (arXiv:1903.10520).

Why a `Conv2D` subclass that overrides only `convolution_op`: the kernel is
standardized on every call from the raw variable, so the optimizer keeps
updating the unconstrained weight (as the paper's Eq. 5 asks) while every other
`Conv2D` feature -- strides, dilation, groups, `channels_first`, bias,
activation, regularizers, LoRA -- keeps working unchanged. A kernel
*constraint* would instead rewrite the variable after each step, which changes
the optimization the paper analyses.
"""

import keras
from keras import ops

from keras_dlss._validation import check_range, check_rank, shape_str

# Statistics over a float16/bfloat16 kernel lose too much precision to divide by
# sqrt(var + eps) safely; they are computed in float32 and cast back.
_LOW_PRECISION = ("float16", "bfloat16")


def standardize_kernel(kernel, epsilon=1e-5):
    """(W - mean) / sqrt(var + epsilon) per output channel (the last axis).

    Mean and (biased) variance run over every other axis, i.e. over
    `(kh, kw, in_channels)` for a `Conv2D` kernel (Qiao et al. 2019, Eq. 5).
    """
    dtype = keras.backend.standardize_dtype(kernel.dtype)
    w = ops.cast(kernel, "float32") if dtype in _LOW_PRECISION else kernel
    axes = tuple(range(len(w.shape) - 1))
    mean = ops.mean(w, axis=axes, keepdims=True)
    var = ops.var(w, axis=axes, keepdims=True)
    w = (w - mean) * ops.rsqrt(var + epsilon)
    return ops.cast(w, dtype)


@keras.saving.register_keras_serializable(package="keras_dlss")
class WeightStandardizedConv2D(keras.layers.Conv2D):
    """`Conv2D` whose kernel is standardized per output channel before use.

    Each output filter's weights are shifted to zero mean and scaled to unit
    variance over `(kernel_height, kernel_width, in_channels)` on every call:
    `W_hat = (W - mean(W)) / sqrt(var(W) + epsilon)`. This smooths the loss
    landscape and, paired with `GroupNormalization`, trains well with the
    micro-batches (1-2 images per device) where batch normalization fails. The
    trainable variable stays the raw `W`; the standardized kernel is never stored.

    Args:
        filters: int. Number of output channels.
        kernel_size: int or tuple of 2 ints. Height and width of the window.
        epsilon: float > 0. Added to the variance for numerical stability.
            Defaults to `1e-5`.
        **kwargs: every other `keras.layers.Conv2D` argument (`strides`,
            `padding`, `data_format`, `dilation_rate`, `groups`, `activation`,
            `use_bias`, initializers, regularizers, constraints, `name`, ...).
            With `groups > 1` each filter is standardized over its own
            `in_channels // groups` inputs.

    Input shape:
        4D tensor `[batch, height, width, channels]` (`channels_last`) or
        `[batch, channels, height, width]` (`channels_first`).

    Returns:
        4D tensor, shaped as `keras.layers.Conv2D` would return it.

    Example:

    ```python
    import numpy as np
    import keras
    from keras_dlss.layers import WeightStandardizedConv2D, normalization

    x = np.random.rand(2, 32, 32, 3).astype("float32")
    block = keras.Sequential([
        WeightStandardizedConv2D(16, 3, padding="same", use_bias=False),
        normalization("group", groups=4),
        keras.layers.ReLU(),
    ])
    y = block(x)  # [2, 32, 32, 16]
    ```

    References:
        Qiao et al., 2019, https://arxiv.org/abs/1903.10520
        Wu & He, 2018 (Group Normalization), https://arxiv.org/abs/1803.08494
    """

    def __init__(self, filters, kernel_size, epsilon=1e-5, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        self.epsilon = float(check_range("epsilon", epsilon, 0, low_inclusive=False))
        # Conv2D's spec (min_ndim=4) would reject a wrong rank before `build`
        # with Keras's generic message; `build` checks it and restores the spec.
        self.input_spec = None

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "Argument `inputs` must have rank 4 ([batch, height, width, channels] "
                f"or channels_first). Received: inputs.shape={shape_str(input_shape)}"
            )
        super().build(input_shape)

    def call(self, inputs):
        check_rank("inputs", inputs, 4)  # static: a rank-5 input after build
        return super().call(inputs)

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, standardize_kernel(kernel, self.epsilon))

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
