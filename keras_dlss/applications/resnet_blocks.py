"""The pieces `ResNet` and `PlainNet` are assembled from: convolution, normalization, shortcuts.

He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR
2016 (arXiv:1512.03385), Section 4.2 (the CIFAR-10 networks); He, Zhang, Ren and
Sun, "Identity Mappings in Deep Residual Networks", ECCV 2016 (arXiv:1603.05027),
Figure 1(b) and Figure 4(e) (full pre-activation).

Why option A (a parameter-free shortcut) is the default where a stage halves the
resolution and doubles the width: it is what the CIFAR experiments used, so
ResNet-20 has the published 0.27M parameters and a `PlainNet` has *exactly* the
weights of its `ResNet` (the two differ only by the additions), which is the
comparison of He et al.'s Figure 6. `shortcut="projection"` (option B: a strided
1x1 convolution and a normalization) is the ImageNet choice.

Why `ZeroPadShortcut` is a layer and not a `Lambda`: a `Lambda` cannot be loaded
from a `.keras` file without `safe_mode=False`, and its Python closure does not
survive export; the layer is two `keras.ops` calls (a strided slice and a pad),
which XLA, ONNX (Slice + Pad) and every backend handle.
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int, shape_str
from keras_dlss.layers import WeightStandardizedConv2D, normalization


@keras.saving.register_keras_serializable(package="keras_dlss")
class ZeroPadShortcut(keras.layers.Layer):
    """Option-A residual shortcut: subsample by `strides`, zero-pad channels to `filters`.

    `y = pad(x[:, ::s, ::s, :])` with the new channels split evenly before and
    after the old ones (as in He et al.'s CIFAR code), so the shortcut adds no
    parameters and stays an identity on the channels it keeps.

    Args:
        filters: int. Output channels, >= the input channels.
        strides: int. Spatial subsampling factor. Defaults to `2`.

    Returns:
        `[batch, ceil(h / strides), ceil(w / strides), filters]`.

    Example:

    ```python
    from keras_dlss.applications.resnet_blocks import ZeroPadShortcut

    y = ZeroPadShortcut(8)(np.ones((1, 4, 4, 4), "float32"))
    assert y.shape == (1, 2, 2, 8) and float(y[0, 0, 0, 0]) == 0.0
    ```

    References:
        He et al., 2016, https://arxiv.org/abs/1512.03385 (Section 3.3, option A)
    """

    def __init__(self, filters, strides=2, **kwargs):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.strides = check_positive_int("strides", strides)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None or input_shape[-1] > self.filters:
            raise ValueError(
                "Argument `inputs` must be [batch, height, width, channels] with at most "
                f"`filters`={self.filters} channels. Received: inputs.shape={shape_str(input_shape)}"
            )

    def call(self, inputs):
        x = inputs[:, :: self.strides, :: self.strides, :]
        extra = self.filters - inputs.shape[-1]
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])

    def compute_output_shape(self, input_shape):
        def sub(d):
            return None if d is None else -(-d // self.strides)

        return (input_shape[0], sub(input_shape[1]), sub(input_shape[2]), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


class BlockBuilder:
    """Makes the named layers of one network; holds the architecture switches.

    Names follow `stage{s}_block{b}_{conv1,norm1,relu1,conv2,norm2,relu2,
    shortcut,add}` (stages and blocks count from 1), so feature extraction and
    fully convolutional conversions can find every layer by name.
    """

    def __init__(self, norm, groups, weight_standardization, preactivation, residual, shortcut):
        self.norm = norm
        self.groups = groups
        self.weight_standardization = weight_standardization
        self.preactivation = preactivation
        self.residual = residual
        self.shortcut = shortcut

    def conv(self, filters, kernel_size, strides, name):
        cls = WeightStandardizedConv2D if self.weight_standardization else keras.layers.Conv2D
        return cls(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
            name=name,
        )

    def normalize(self, x, name):
        # `channels` only for "group": the factory's "batch" kind does not accept it.
        kwargs = {"groups": self.groups, "channels": x.shape[-1]} if self.norm == "group" else {}
        return normalization(self.norm, name=name, **kwargs)(x)

    def norm_relu(self, x, prefix, suffix=""):
        x = self.normalize(x, f"{prefix}_norm{suffix}")
        return keras.layers.ReLU(name=f"{prefix}_relu{suffix}")(x)

    def block(self, x, filters, strides, prefix):
        """One basic block (two 3x3 convolutions), pre- or post-activation.

        Returns the block's output and the name of the layer that produced it.
        """
        if self.preactivation:
            x = self._preactivation_block(x, filters, strides, prefix)
            return x, f"{prefix}_add" if self.residual else f"{prefix}_conv2"
        return self._postactivation_block(x, filters, strides, prefix), f"{prefix}_relu2"

    def _postactivation_block(self, x, filters, strides, prefix):
        # He et al. 2016a, Fig. 2: conv-norm-relu-conv-norm, add, relu.
        y = self.conv(filters, 3, strides, f"{prefix}_conv1")(x)
        y = self.norm_relu(y, prefix, "1")
        y = self.conv(filters, 3, 1, f"{prefix}_conv2")(y)
        y = self.normalize(y, f"{prefix}_norm2")
        if self.residual:
            y = self._add(x, x, y, filters, strides, prefix)
        return keras.layers.ReLU(name=f"{prefix}_relu2")(y)

    def _preactivation_block(self, x, filters, strides, prefix):
        # He et al. 2016b, Fig. 4(e): norm-relu-conv-norm-relu-conv, add; the
        # shortcut stays a clean identity path from block to block.
        h = self.norm_relu(x, prefix, "1")
        y = self.conv(filters, 3, strides, f"{prefix}_conv1")(h)
        y = self.norm_relu(y, prefix, "2")
        y = self.conv(filters, 3, 1, f"{prefix}_conv2")(y)
        if self.residual:
            # A projection sees the pre-activated input (as in the paper's code); option A
            # pads the raw input so the identity path is never normalized.
            y = self._add(x, h, y, filters, strides, prefix)
        return y

    def _add(self, x, pre_activated, y, filters, strides, prefix):
        if strides != 1 or x.shape[-1] != filters:
            if self.shortcut == "projection":
                x = self.conv(filters, 1, strides, f"{prefix}_shortcut")(pre_activated)
                if not self.preactivation:
                    x = self.normalize(x, f"{prefix}_shortcut_norm")
            else:
                x = ZeroPadShortcut(filters, strides, name=f"{prefix}_shortcut")(x)
        return keras.layers.Add(name=f"{prefix}_add")([x, y])
