"""Fully convolutional networks for semantic segmentation (FCN-32s, -16s, -8s).

Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic
Segmentation", CVPR 2015. A classification backbone, made fully
convolutional, scores classes at stride 32; learned upsampling
(`Conv2DTranspose` initialized to bilinear interpolation, §3.3) brings the
scores back to the input size. FCN-16s and FCN-8s add skip connections (§4.2):
1×1 score layers on the stride-16 and stride-8 features, initialized to zero so
training starts from the coarser net's output, are summed with the 2×
upsampled coarser scores before the final upsampling.

Why `FCN` takes any functional backbone plus the names of its stride-8/16/32
layers (or finds them from the layers' output sizes): the curriculum's workflow
is to pre-train *your* classifier, convert it with `to_fully_convolutional`,
and fine-tune; a fixed backbone would hide that step. `conv_backbone` is a
small default for the CLI and the tests.
"""

import keras
import numpy as np

from keras_dlss._validation import check_one_of, check_positive_int, shape_str, static_dim

__all__ = ["FCN", "BilinearUpsampling", "conv_backbone"]

VARIANTS = {"32s": (32,), "16s": (32, 16), "8s": (32, 16, 8)}


@keras.saving.register_keras_serializable(package="keras_dlss")
class BilinearUpsampling(keras.initializers.Initializer):
    """`Conv2DTranspose` kernel that performs bilinear interpolation per channel.

    For a kernel `[k, k, out, in]` with `out == in`, channel c maps only to
    channel c with the separable tent `(1 - |x - center| / f)` of factor
    `f = ceil(k / 2)` (Long et al. 2015, §3.3; the Caffe `bilinear` filler).

    Example:

    ```python
    import keras
    from keras_dlss.applications import BilinearUpsampling

    up = keras.layers.Conv2DTranspose(
        2, 4, strides=2, padding="same", use_bias=False,
        kernel_initializer=BilinearUpsampling())
    assert up(keras.ops.ones((1, 3, 3, 2))).shape == (1, 6, 6, 2)
    ```
    """

    def __call__(self, shape, dtype=None):
        kh, kw, out_channels, in_channels = shape
        if out_channels != in_channels:
            raise ValueError(
                "Argument `shape` must have as many output as input channels for a bilinear "
                f"upsampling kernel. Received: shape={tuple(shape)}"
            )

        def tent(k):
            factor = (k + 1) // 2
            center = factor - 1 if k % 2 == 1 else factor - 0.5
            return 1.0 - np.abs(np.arange(k) - center) / factor

        weights = np.zeros(shape, "float32")
        filt = np.outer(tent(kh), tent(kw))
        for c in range(out_channels):
            weights[:, :, c, c] = filt
        return keras.ops.convert_to_tensor(weights, dtype=dtype or "float32")

    def get_config(self):
        return {}


@keras.saving.register_keras_serializable(package="keras_dlss")
class StrideCheck(keras.layers.Layer):
    """Identity that raises when the input's height or width is not a multiple of `stride`."""

    def __init__(self, stride, **kwargs):
        super().__init__(**kwargs)
        self.stride = check_positive_int("stride", stride)

    def call(self, inputs):
        for axis in (1, 2):
            # Symbolic sizes (jax2tf's export) are checked when a concrete shape arrives.
            dim = static_dim(inputs.shape[axis])
            if dim is not None and dim % self.stride:
                raise ValueError(
                    f"Argument `inputs` must have a height and width divisible by {self.stride} "
                    f"(the backbone's output stride). Received: inputs.shape={shape_str(inputs.shape)}"
                )
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "stride": self.stride}


def conv_backbone(input_shape=(None, None, 3), width=16, name="conv_backbone"):
    """A small VGG-like backbone: five stages of two 3×3 conv-BN-ReLU and a 2×2 max pool.

    Stage s ends in a pool named `f"pool{s}"` at stride `2**s` (pool3, pool4,
    pool5 at strides 8, 16, 32, as VGG names them), so `FCN` finds its skips.

    Args:
        input_shape: tuple. `(height, width, channels)`; `None` sizes accept any
            image. Defaults to `(None, None, 3)`.
        width: int. Channels of the first stage, doubled up to 4× by stage 3.
            Defaults to `16`.
        name: str. Model name.

    Returns:
        A functional `keras.Model` from images to the stride-32 feature map.

    Example:

    ```python
    from keras_dlss.applications import conv_backbone

    backbone = conv_backbone((32, 32, 3), width=4)
    assert backbone.output.shape == (None, 1, 1, 16)
    ```
    """
    width = check_positive_int("width", width)
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for stage in range(1, 6):
        channels = width * min(2 ** (stage - 1), 4)
        for i in range(2):
            x = keras.layers.Conv2D(
                channels, 3, padding="same", use_bias=False, name=f"conv{stage}_{i + 1}"
            )(x)
            # Batch normalization: a plain ten-layer ReLU stack barely trains in a few
            # epochs from scratch (VGG needed staged initialization, Simonyan & Zisserman).
            x = keras.layers.BatchNormalization(momentum=0.9, name=f"bn{stage}_{i + 1}")(x)
            x = keras.layers.ReLU(name=f"relu{stage}_{i + 1}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{stage}")(x)
    return keras.Model(inputs, x, name=name)


def _layer_strides(backbone):
    """{layer name: stride} for every layer with a 4-D output, probed at 64 × stride sizes."""
    probe_size = 256
    channels = backbone.inputs[0].shape[-1]
    candidates = [
        layer
        for layer in backbone.layers
        if not isinstance(layer, keras.layers.InputLayer)
        and len(getattr(layer.output, "shape", ())) == 4
    ]
    probe = keras.Model(backbone.inputs, [layer.output for layer in candidates])
    static = tuple(backbone.inputs[0].shape[1:3])
    size = static if None not in static else (probe_size, probe_size)
    shapes = probe.compute_output_spec(keras.KerasTensor((1, *size, channels)))
    strides = {}
    for layer, spec in zip(candidates, shapes):
        h, w = spec.shape[1:3]
        if h and w and size[0] % h == 0 and size[0] // h == size[1] // max(w, 1):
            strides[layer.name] = size[0] // h
    return strides


def _feature_layers(backbone, feature_layers):
    if feature_layers is not None:
        names = (
            dict(zip((8, 16, 32), feature_layers))
            if not isinstance(feature_layers, dict)
            else dict(feature_layers)
        )
        for stride, name in names.items():
            try:
                backbone.get_layer(name)
            except ValueError:
                raise ValueError(
                    f"Argument `feature_layers` names no layer of the backbone for stride "
                    f"{stride}. Received: feature_layers={feature_layers!r}"
                ) from None
        return names
    strides = _layer_strides(backbone)
    names = {}
    for name, stride in strides.items():  # layers in order: the last one at each stride wins
        if stride in (8, 16, 32):
            names[stride] = name
    return names


def FCN(backbone, num_classes, variant="8s", feature_layers=None, name=None):
    """A fully convolutional segmentation network over a backbone (Long et al. 2015).

    A 1×1 convolution scores the stride-32 features; for `"16s"` and `"8s"` the
    scores are upsampled 2× (bilinear-initialized `Conv2DTranspose`) and summed
    with zero-initialized 1×1 scores of the stride-16 (and then stride-8)
    features; a final bilinear-initialized `Conv2DTranspose` upsamples by 32,
    16 or 8 to the input size. The output is per-pixel logits.

    Args:
        backbone: a functional `keras.Model` from images to features, e.g.
            `conv_backbone()` or a classifier converted with
            `to_fully_convolutional(..., pooling="none")`. Its layers are shared
            (fine-tuning the FCN trains them).
        num_classes: int >= 2. Output labels (background included).
        variant: `"32s"`, `"16s"` or `"8s"`. Defaults to `"8s"`.
        feature_layers: optional names of the backbone's layers at strides
            8, 16 and 32 (a tuple in that order, or a dict stride → name). By
            default the last layer at each stride, found by probing the
            output sizes.
        name: optional model name. Defaults to `f"fcn_{variant}"`.

    Returns:
        A functional `keras.Model` from `[batch, H, W, C]` images (H and W
        multiples of 32) to `[batch, H, W, num_classes]` logits.

    Example:

    ```python
    import numpy as np
    from keras_dlss.applications import FCN, conv_backbone

    model = FCN(conv_backbone(width=4), num_classes=3, variant="8s")
    assert model(np.zeros((1, 64, 96, 3), "float32")).shape == (1, 64, 96, 3)
    ```

    References:
        Long, Shelhamer & Darrell 2015, https://arxiv.org/abs/1411.4038.
    """
    if not isinstance(backbone, keras.Model) or not backbone.inputs:
        raise ValueError(
            f"Argument `backbone` must be a functional keras.Model. Received: backbone={backbone!r}"
        )
    num_classes = check_positive_int("num_classes", num_classes, minimum=2)
    check_one_of("variant", variant, tuple(VARIANTS))
    for axis in (1, 2):
        dim = backbone.inputs[0].shape[axis]
        if dim is not None and dim % 32:
            raise ValueError(
                "Argument `backbone` must take inputs whose height and width are multiples of "
                f"32. Received: backbone.input.shape={shape_str(backbone.inputs[0].shape)}"
            )
    names = _feature_layers(backbone, feature_layers)
    missing = [s for s in VARIANTS[variant] if s not in names]
    if missing:
        raise ValueError(
            f"Argument `backbone` has no layer at stride {missing[0]} (FCN-{variant} needs "
            f"strides {VARIANTS[variant]}); pass `feature_layers`. Received: backbone with "
            f"strides {sorted(set(names))}"
        )
    strides = VARIANTS[variant]
    features = keras.Model(
        backbone.inputs,
        [backbone.get_layer(names[s]).output for s in strides],
        name=f"{backbone.name}_features",
    )
    inputs = keras.Input(backbone.inputs[0].shape[1:], name="image")
    # A shape check in the graph: a size that is not a multiple of 32 would
    # misalign the skips with a cryptic broadcasting error deep inside `Add`.
    maps = features(StrideCheck(32, name="stride_check")(inputs))
    maps = dict(zip(strides, maps if isinstance(maps, (list, tuple)) else [maps]))
    scores = keras.layers.Conv2D(num_classes, 1, name="score32")(maps[32])
    stride = 32
    for skip in VARIANTS[variant][1:]:
        up = keras.layers.Conv2DTranspose(
            num_classes,
            4,
            strides=2,
            padding="same",
            use_bias=False,
            kernel_initializer=BilinearUpsampling(),
            name=f"upscore{stride}to{skip}",
        )(scores)
        side = keras.layers.Conv2D(num_classes, 1, kernel_initializer="zeros", name=f"score{skip}")(
            maps[skip]
        )
        scores = keras.layers.Add(name=f"fuse{skip}")([up, side])
        stride = skip
    logits = keras.layers.Conv2DTranspose(
        num_classes,
        2 * stride,
        strides=stride,
        padding="same",
        use_bias=False,
        kernel_initializer=BilinearUpsampling(),
        name=f"upscore{stride}",
    )(scores)
    return keras.Model(inputs, logits, name=name or f"fcn_{variant}")
