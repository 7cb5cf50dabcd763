"""The DARTS operation set (Liu, Simonyan & Yang 2019, Section 3.1 and Appendix A.1).

Eight candidate operations per edge of a cell, all mapping `channels` feature
maps to `channels` maps (with stride 2 on the edges that leave a reduction
cell's inputs): 3x3 and 5x5 separable convolutions (applied twice, as in the
paper), 3x3 and 5x5 dilated separable convolutions (dilation 2), 3x3 max and
average pooling, identity ("skip_connect"; a factorized reduction at stride 2)
and zero (the paper's "none", which lets the search drop an edge).

Everything is Keras core layers (ReLU, depthwise/pointwise `Conv2D`, pooling,
`BatchNormalization`) composed in `keras.Sequential`, plus three small layers
for what Keras lacks: `Zero`, `FactorizedReduce` and `Subsample`. Keras's
depthwise convolution refuses a stride and a dilation together, so a dilated
convolution at stride 2 runs at stride 1 and keeps every second pixel: the same
receptive field and output size. During the search the batch normalizations
are not affine (`affine=False`, as in the paper: a learned scale would let an
operation's output magnitude compete with its `alpha`); the retrained discrete
network uses affine ones.
"""

import keras
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int

__all__ = ["PRIMITIVES", "FactorizedReduce", "Subsample", "Zero", "darts_operation"]

PRIMITIVES = (
    "zero",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)


def _batch_norm(affine, name):
    return keras.layers.BatchNormalization(center=affine, scale=affine, name=name)


@keras.saving.register_keras_serializable(package="keras_dlss")
class Zero(keras.layers.Layer):
    """Outputs zeros shaped like the input subsampled by `strides` (DARTS' "none")."""

    def __init__(self, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.strides = check_positive_int("strides", strides)

    def call(self, inputs):
        s = self.strides
        return ops.zeros_like(inputs[:, ::s, ::s, :])

    def compute_output_shape(self, input_shape):
        return _subsampled_shape(input_shape, self.strides)

    def get_config(self):
        return {**super().get_config(), "strides": self.strides}


@keras.saving.register_keras_serializable(package="keras_dlss")
class Subsample(keras.layers.Layer):
    """Keeps every `strides`-th row and column (a stride after a dilated convolution)."""

    def __init__(self, strides=2, **kwargs):
        super().__init__(**kwargs)
        self.strides = check_positive_int("strides", strides)

    def call(self, inputs):
        s = self.strides
        return inputs[:, ::s, ::s, :]

    def compute_output_shape(self, input_shape):
        return _subsampled_shape(input_shape, self.strides)

    def get_config(self):
        return {**super().get_config(), "strides": self.strides}


def _subsampled_shape(shape, s):
    def sub(d):
        return None if d is None else (d + s - 1) // s

    return (shape[0], sub(shape[1]), sub(shape[2]), shape[3])


@keras.saving.register_keras_serializable(package="keras_dlss")
class FactorizedReduce(keras.layers.Layer):
    """Halves the resolution with two offset strided 1x1 convolutions, concatenated.

    DARTS' identity at stride 2 and its preprocessing of a cell input that is
    twice the resolution of the other: ReLU, then a 1x1 convolution at stride 2
    on the input and another on the input shifted by one pixel (so that every
    pixel is seen), each giving half of `channels`, then batch normalization.
    """

    def __init__(self, channels, affine=True, **kwargs):
        super().__init__(**kwargs)
        self.channels = check_positive_int("channels", channels, minimum=2)
        self.affine = bool(affine)
        half = self.channels // 2
        self.conv_a = keras.layers.Conv2D(half, 1, strides=2, use_bias=False, name="conv_a")
        self.conv_b = keras.layers.Conv2D(
            self.channels - half, 1, strides=2, use_bias=False, name="conv_b"
        )
        self.norm = _batch_norm(self.affine, "norm")

    def build(self, input_shape):
        self.conv_a.build(input_shape)
        self.conv_b.build(input_shape)  # the shifted input is padded back to full size
        self.norm.build(self.compute_output_shape(input_shape))
        self.built = True

    def call(self, inputs, training=None):
        x = ops.relu(inputs)
        a = self.conv_a(x)
        # The shifted branch is padded back at the far edge so odd sizes line up.
        b = self.conv_b(ops.pad(x[:, 1:, 1:, :], [[0, 0], [0, 1], [0, 1], [0, 0]]))
        return self.norm(ops.concatenate([a, b], axis=-1), training=training)

    def compute_output_shape(self, input_shape):
        return _subsampled_shape(input_shape, 2)[:3] + (self.channels,)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "affine": self.affine}


def relu_conv_bn(channels, kernel_size=1, strides=1, affine=True, name=None):
    """ReLU, convolution (no bias), batch normalization: DARTS' preprocessing block."""
    return keras.Sequential(
        [
            keras.layers.ReLU(),
            keras.layers.Conv2D(channels, kernel_size, strides, "same", use_bias=False),
            _batch_norm(affine, None),
        ],
        name=name,
    )


def _separable(channels, kernel_size, strides, dilation, affine):
    layers = [
        keras.layers.ReLU(),
        keras.layers.DepthwiseConv2D(
            kernel_size,
            1 if dilation > 1 else strides,
            "same",
            dilation_rate=dilation,
            use_bias=False,
        ),
    ]
    if dilation > 1 and strides > 1:
        layers.append(Subsample(strides))
    layers += [keras.layers.Conv2D(channels, 1, use_bias=False), _batch_norm(affine, None)]
    return layers


def darts_operation(name, channels, strides=1, affine=True):
    """Builds one candidate operation of the DARTS search space.

    Args:
        name: str. One of `PRIMITIVES`: `"zero"`, `"max_pool_3x3"`,
            `"avg_pool_3x3"`, `"skip_connect"`, `"sep_conv_3x3"`,
            `"sep_conv_5x5"`, `"dil_conv_3x3"`, `"dil_conv_5x5"`.
        channels: int. Input and output channels.
        strides: int. 1, or 2 on the edges that reduce the resolution.
        affine: bool. Learned scale and shift in the batch normalizations.
            The search uses `False` (and follows pooling with a non-affine
            batch normalization), the retrained network `True`.

    Returns:
        A `keras.layers.Layer` mapping `[B, H, W, channels]` to
        `[B, H/strides, W/strides, channels]`.

    Example:

    ```python
    from keras_dlss.applications.darts_operations import darts_operation
    op = darts_operation("sep_conv_3x3", channels=4, strides=2)
    assert op(np.ones((1, 8, 8, 4), "float32")).shape == (1, 4, 4, 4)
    ```
    """
    check_one_of("name", name, PRIMITIVES)
    channels = check_positive_int("channels", channels)
    if strides not in (1, 2):
        raise ValueError(f"Argument `strides` must be 1 or 2. Received: strides={strides!r}")
    if name == "zero":
        return Zero(strides)
    if name == "skip_connect":
        return keras.layers.Identity() if strides == 1 else FactorizedReduce(channels, affine)
    if name.endswith("pool_3x3"):
        pool = (
            keras.layers.MaxPooling2D if name.startswith("max") else keras.layers.AveragePooling2D
        )
        layers = [pool(3, strides, "same")]
        if not affine:
            layers.append(_batch_norm(False, None))
        return keras.Sequential(layers)
    kernel_size = int(name[-1])
    if name.startswith("sep_conv"):
        # The paper applies the separable convolution twice (Appendix A.1).
        layers = _separable(channels, kernel_size, strides, 1, affine)
        layers += _separable(channels, kernel_size, 1, 1, affine)
        return keras.Sequential(layers)
    return keras.Sequential(_separable(channels, kernel_size, strides, 2, affine))
