"""CIFAR-style residual networks and their plain twins (DLSS 2018, "Intro to CNNs").

He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
(arXiv:1512.03385), Section 4.2: a 3x3 convolution, three stages of `n` basic
blocks at widths `w, 2w, 4w` on feature maps of size `s, s/2, s/4` (the first
convolution of stages 2 and 3 has stride 2), global average pooling and a
dense classifier: `6n + 2` weighted layers (20, 32, 44, 56, 110). The
pre-activation variant (He et al., "Identity Mappings in Deep Residual
Networks", ECCV 2016, arXiv:1603.05027) is the default; `preactivation=False`
gives the original post-activation blocks. `PlainNet` is the same network with
the additions removed, the comparison that showed deeper plain networks train
*worse* (degradation), which residual connections fix.

Why a functional `keras.Model` subclass (like `MLPClassifier`) rather than a
subclassed `call`: the graph of named layers is what SavedModel/ONNX export,
`model.get_layer("stage2_block1_add")` feature extraction and fully
convolutional conversions need, and the subclass adds the architecture
arguments to `get_config` and a preset `compile()`.
"""

import keras

from keras_dlss._validation import check_one_of, check_positive_int
from keras_dlss.applications.preset_compile import PresetCompile
from keras_dlss.applications.resnet_blocks import BlockBuilder
from keras_dlss.layers.normalization_factory import _BUILDERS as _NORM_KINDS

NORMS = tuple(sorted(_NORM_KINDS))
SHORTCUTS = ("zero_pad", "projection")
STAGES = 3


def blocks_per_stage(depth):
    """`n` of a depth `6n + 2` network; `ValueError` naming `depth` otherwise."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            "Argument `depth` must be an int of the form 6n + 2 with n >= 1 (8, 14, 20, 32, "
            f"44, 56, 110, ...). Received: depth={depth!r}"
        )
    return (depth - 2) // 6


def _check_input_shape(input_shape):
    ok = isinstance(input_shape, (tuple, list)) and len(input_shape) == 3
    if ok:
        height, width, channels = input_shape
        ok = isinstance(channels, int) and channels >= 1
        ok = ok and all(d is None or (isinstance(d, int) and d >= 4) for d in (height, width))
    if not ok:
        raise ValueError(
            "Argument `input_shape` must be (height, width, channels) with height and width "
            f"None or >= 4 and channels >= 1. Received: input_shape={input_shape!r}"
        )
    return tuple(input_shape)


@keras.saving.register_keras_serializable(package="keras_dlss")
class ResNet(PresetCompile, keras.Model):
    """A CIFAR-style ResNet of depth `6n + 2` with a normalization switch.

    Layers are named `stem_conv`, `stage{s}_block{b}_{conv1,norm1,relu1,conv2,
    norm2,relu2,shortcut,add}` (s = 1..3, b = 1..n), `final_norm`/`final_relu`
    (pre-activation only), `pool`, `logits` and `probabilities`;
    `feature_layer_names` lists each stage's output layer. Convolutions are
    3x3, bias-free, He-normal initialized. `compile()` with no arguments uses
    SGD with Nesterov momentum 0.9 at `learning_rate`, L2-free, sparse
    categorical cross-entropy, accuracy and `jit_compile=True`.

    Args:
        depth: int. `6n + 2` weighted layers (stem + 6n convolutions + dense):
            20, 32, 44, 56, 110 as in the paper; 8 and 14 for quick runs.
        width: int. Channels of the first stage; stages have `width`,
            `2 * width`, `4 * width`. Defaults to `16` (the paper's).
        norm: str. Normalization kind for `keras_dlss.layers.normalization`:
            "batch", "group", "instance", "layer" or "none". Defaults to `"batch"`.
        groups: int. Groups of group normalization; must divide `width`.
            Defaults to `8`.
        weight_standardization: bool. Use `WeightStandardizedConv2D` for every
            convolution (Qiao et al. 2019; pairs with `norm="group"`).
            Defaults to `False`.
        preactivation: bool. Pre-activation blocks (norm-relu-conv, He et al.
            2016b) or the original post-activation ones. Defaults to `True`.
        num_classes: int. Classes of the dense head, >= 2. Defaults to `10`.
        input_shape: tuple. `(height, width, channels)`; height and width may be
            None (any size). Defaults to `(32, 32, 3)`.
        shortcut: str. Where a stage changes resolution and width:
            `"zero_pad"` (option A: strided identity with zero channels, no
            parameters; the paper's CIFAR choice) or `"projection"` (option B:
            strided 1x1 convolution). Defaults to `"zero_pad"`.
        include_top: bool. False ends the model at the last feature map
            (`[batch, h/4, w/4, 4 * width]`), for dense prediction heads.
            Defaults to `True`.
        classifier_activation: str or None. Activation of the output;
            None returns the logits. Defaults to `"softmax"`.
        learning_rate: float. Learning rate of the preset `compile()`.
            Defaults to `0.05`.

    Returns:
        A `keras.Model` mapping `[batch, height, width, channels]` images to
        class probabilities `[batch, num_classes]`.

    Example:

    ```python
    from keras_dlss.applications import ResNet
    from keras_dlss.datasets import shapes

    x, y = shapes(8, image_size=16, num_classes=4)
    model = ResNet(8, width=8, norm="group", groups=4, num_classes=4, input_shape=(16, 16, 3))
    model.compile()  # Nesterov SGD, cross-entropy, accuracy, jit_compile=True
    probabilities = model(x)  # [8, 4]; `model.fit(x, y, epochs=...)` trains it
    print(model.count_params(), model.feature_layer_names)
    ```

    References:
        He et al., 2016, https://arxiv.org/abs/1512.03385; He et al., 2016b,
        https://arxiv.org/abs/1603.05027; Wu & He, 2018,
        https://arxiv.org/abs/1803.08494; Qiao et al., 2019,
        https://arxiv.org/abs/1903.10520.
    """

    residual = True

    def __init__(
        self,
        depth,
        width=16,
        norm="batch",
        groups=8,
        weight_standardization=False,
        preactivation=True,
        num_classes=10,
        input_shape=(32, 32, 3),
        shortcut="zero_pad",
        include_top=True,
        classifier_activation="softmax",
        learning_rate=0.05,
        **kwargs,
    ):
        n = blocks_per_stage(depth)
        width = check_positive_int("width", width)
        check_one_of("norm", norm, NORMS)
        groups = check_positive_int("groups", groups)
        if norm == "group" and width % groups:
            raise ValueError(
                "Argument `groups` must divide `width` (and so every stage's channels). "
                f"Received: groups={groups}, width={width}"
            )
        num_classes = check_positive_int("num_classes", num_classes, minimum=2)
        input_shape = _check_input_shape(input_shape)
        check_one_of("shortcut", shortcut, SHORTCUTS)
        if not isinstance(learning_rate, (int, float)) or not learning_rate > 0:
            raise ValueError(
                f"Argument `learning_rate` must be > 0. Received: learning_rate={learning_rate!r}"
            )
        builder = BlockBuilder(
            norm, groups, bool(weight_standardization), bool(preactivation), self.residual, shortcut
        )
        inputs = keras.Input(shape=input_shape, name="images")
        x = builder.conv(width, 3, 1, "stem_conv")(inputs)
        if not preactivation:
            x = builder.norm_relu(x, "stem")
        features = []
        for stage in range(1, STAGES + 1):
            filters = width * 2 ** (stage - 1)
            for block in range(1, n + 1):
                strides = 2 if stage > 1 and block == 1 else 1
                x, last = builder.block(x, filters, strides, f"stage{stage}_block{block}")
            features.append(last)
        if preactivation:
            # The last block's output is un-normalized in pre-activation nets (He et al. 2016b).
            x = builder.norm_relu(x, "final")
        outputs = x
        if include_top:
            x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
            outputs = keras.layers.Dense(num_classes, name="logits")(x)
            if classifier_activation is not None:
                outputs = keras.layers.Activation(classifier_activation, name="probabilities")(
                    outputs
                )
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.depth = depth
        self.width = width
        self.norm = norm
        self.groups = groups
        self.weight_standardization = bool(weight_standardization)
        self.preactivation = bool(preactivation)
        self.num_classes = num_classes
        self.image_shape = input_shape
        self.shortcut = shortcut
        self.include_top = bool(include_top)
        self.classifier_activation = classifier_activation
        self.learning_rate = float(learning_rate)
        self.feature_layer_names = features

    def compile(self, optimizer="auto", loss="auto", metrics="auto", jit_compile=True, **kwargs):
        """Compiles with the preset (Nesterov SGD, cross-entropy, accuracy, XLA) unless told otherwise."""
        self._compile_classifier(
            optimizer,
            loss,
            metrics,
            jit_compile,
            kwargs,
            preset_optimizer=lambda: keras.optimizers.SGD(
                self.learning_rate, momentum=0.9, nesterov=True
            ),
            from_logits=self.classifier_activation is None,
        )

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "depth": self.depth,
            "width": self.width,
            "norm": self.norm,
            "groups": self.groups,
            "weight_standardization": self.weight_standardization,
            "preactivation": self.preactivation,
            "num_classes": self.num_classes,
            "input_shape": self.image_shape,
            "shortcut": self.shortcut,
            "include_top": self.include_top,
            "classifier_activation": self.classifier_activation,
            "learning_rate": self.learning_rate,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["input_shape"] = tuple(config["input_shape"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_dlss")
class PlainNet(ResNet):
    """`ResNet` without its skip connections: the same layers, weights and names.

    He et al. (2016, Figure 1 and 6) trained plain stacks of 20 and 56 layers:
    the deeper one reached a *higher training error* (degradation, not
    overfitting), while the residual versions improved with depth. `PlainNet`
    takes every `ResNet` argument and builds the identical network minus the
    `stage{s}_block{b}_add` layers (and the option-A `_shortcut` layers that
    feed them, which have no weights), so with `shortcut="zero_pad"` both have
    exactly the same trainable weights.

    Args:
        depth: int. `6n + 2` (20, 32, 56, 110, ...).
        **kwargs: every other `ResNet` argument.

    Returns:
        A `keras.Model` mapping images to class probabilities.

    Example:

    ```python
    from keras_dlss.applications import PlainNet, ResNet

    plain = PlainNet(8, width=8, input_shape=(16, 16, 3))
    residual = ResNet(8, width=8, input_shape=(16, 16, 3))
    assert plain.count_params() == residual.count_params()  # the same weights
    assert len(residual.layers) - len(plain.layers) == 3 + 2  # 3 adds, 2 shortcuts
    ```

    References:
        He et al., 2016, https://arxiv.org/abs/1512.03385 (Section 4.2, Figure 6)
    """

    residual = False
