"""Turn a trained classifier into a fully convolutional network (Long et al. 2015, §3.1).

A Dense layer that reads a flattened k×k×C feature map computes exactly what a
k×k convolution with "valid" padding computes at the one position where it
fits; a Dense after global pooling is a 1×1 convolution. Rewriting the head so,
with the weights reshaped, gives a network that equals the classifier on its
training size and, on a larger image, slides the classifier over every window
in one pass: a coarse map of class scores, the starting point of FCN.

Why global pooling is kept as a sliding window (`pooling="window"`) by default:
the classifier's nonlinear Dense layers after the pool must see *pooled*
features to reproduce its outputs; pooling over a window of the training
feature-map size with stride 1 is the classifier applied at every offset.
`pooling="none"` drops the pool instead, giving per-location scores at the
backbone's stride (what FCN fine-tuning wants), equal to the classifier only
when the head is linear in the pooled features.
"""

import keras

from keras_dlss._validation import check_one_of, shape_str

__all__ = ["to_fully_convolutional"]

_GLOBAL_POOLS = {
    "GlobalAveragePooling2D": keras.layers.AveragePooling2D,
    "GlobalMaxPooling2D": keras.layers.MaxPooling2D,
}
# Layers that act on the last axis alone: the same layer works on a [B, h, w, C] map.
_PER_LOCATION = (
    "Activation",
    "Dropout",
    "ReLU",
    "LeakyReLU",
    "Softmax",
    "BatchNormalization",
    "LayerNormalization",
)


def _head_start(classifier):
    for i, layer in enumerate(classifier.layers):
        name = type(layer).__name__
        if name == "Flatten" or name in _GLOBAL_POOLS:
            return i
        if name == "Dense":
            raise ValueError(
                f"Argument `classifier` has Dense layer {layer.name!r} before any Flatten or "
                "global pooling: only a Flatten/GlobalPooling2D + Dense head can be converted. "
                f"Received: classifier={classifier.name!r}"
            )
    raise ValueError(
        "Argument `classifier` has no Flatten or GlobalAveragePooling2D/GlobalMaxPooling2D "
        f"layer to convert. Received: classifier={classifier.name!r}"
    )


def _check_chain(classifier, head):
    """The head must be a single chain of layers, each fed by the one before."""
    if isinstance(classifier, keras.Sequential):
        return
    previous = head[0]
    for layer in head[1:]:
        if layer.input is not previous.output:
            raise ValueError(
                f"Argument `classifier` has a branching head at layer {layer.name!r}: only a "
                f"chain of layers after the Flatten/pooling can be converted. "
                f"Received: classifier={classifier.name!r}"
            )
        previous = layer
    if classifier.outputs[0] is not previous.output:
        raise ValueError(
            "Argument `classifier` does not end with its last layer's output. "
            f"Received: classifier={classifier.name!r}"
        )


def _dense_to_conv(dense, kernel_shape):
    kernel, *bias = dense.get_weights()
    config = dense.get_config()
    conv = keras.layers.Conv2D(
        config["units"],
        kernel_shape,
        activation=config["activation"],
        use_bias=config["use_bias"],
        name=dense.name,
        dtype=dense.dtype_policy,
    )
    return conv, [kernel.reshape(*kernel_shape, -1, config["units"]), *bias]


def _feature_input(classifier, start):
    """Input of the head: the backbone's output tensor and its static [h, w, C]."""
    features = classifier.layers[start].input
    shape = tuple(features.shape)
    if len(shape) != 4 or any(d is None for d in shape[1:]):
        raise ValueError(
            f"Argument `classifier` must feed layer {classifier.layers[start].name!r} a "
            "[batch, height, width, channels] map of static size (train on a fixed size). "
            f"Received: {classifier.layers[start].name}.input.shape={shape_str(shape)}"
        )
    return features, shape[1:]


def to_fully_convolutional(classifier, pooling="window"):
    """Rewrites a classifier's Flatten/GlobalPooling + Dense head as convolutions.

    The layers before the head (the backbone) are cloned with their weights onto
    an input of any height and width. In the head, a Dense after `Flatten`
    becomes a k×k "valid" `Conv2D` (k×k the flattened map's size), a Dense after
    global pooling (and every later Dense) a 1×1 `Conv2D`, each with the
    Dense's weights reshaped, activation and name; Dropout, activations and
    normalization layers are kept. On the training input size the output is
    `[batch, 1, 1, classes]` and equals the classifier's `[batch, classes]`;
    on a larger input it is a map of class scores, one per window.

    Args:
        classifier: a built `keras.Sequential` or functional `keras.Model` that
            ends with a chain `Flatten | GlobalAveragePooling2D |
            GlobalMaxPooling2D` → `Dense` layers (with Dropout, Activation,
            Softmax, ReLU, BatchNormalization or LayerNormalization between).
        pooling: `"window"` (global pooling becomes pooling over a window of
            the training feature-map size, stride 1: the classifier slid over
            the image) or `"none"` (the global pool is dropped: per-location
            scores at the backbone's stride). Defaults to `"window"`.

    Returns:
        A functional `keras.Model` from `[batch, None, None, channels]` images
        to `[batch, h', w', classes]` scores.

    Raises:
        ValueError: naming the layer the conversion cannot handle.

    Example:

    ```python
    import numpy as np
    import keras
    from keras_dlss.applications import to_fully_convolutional

    classifier = keras.Sequential([
        keras.Input((16, 16, 3)),
        keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(3, activation="softmax"),
    ])
    fcn = to_fully_convolutional(classifier)
    x = np.random.rand(2, 16, 16, 3).astype("float32")
    np.testing.assert_allclose(fcn(x)[:, 0, 0], classifier(x), atol=1e-5)
    assert fcn(np.random.rand(1, 32, 32, 3)).shape == (1, 9, 9, 3)
    ```

    References:
        Long, Shelhamer & Darrell 2015, "Fully Convolutional Networks for
        Semantic Segmentation", https://arxiv.org/abs/1411.4038 (§3.1).
    """
    if not isinstance(classifier, keras.Model) or not classifier.built:
        raise ValueError(
            f"Argument `classifier` must be a built keras.Model. Received: classifier={classifier!r}"
        )
    check_one_of("pooling", pooling, ("window", "none"))
    start = _head_start(classifier)
    head = classifier.layers[start:]
    _check_chain(classifier, head)
    features, (h, w, channels) = _feature_input(classifier, start)
    backbone = keras.Model(classifier.inputs, features)
    inputs = keras.Input((None, None, classifier.inputs[0].shape[-1]), name="image")
    clone = keras.models.clone_model(backbone, input_tensors=[inputs])
    clone.set_weights(backbone.get_weights())
    x = clone.outputs[0]
    kernel_shape = (h, w)
    for layer in head:
        kind = type(layer).__name__
        if kind == "Flatten":
            continue
        if kind in _GLOBAL_POOLS:
            kernel_shape = (1, 1)
            if pooling == "window":
                x = _GLOBAL_POOLS[kind](pool_size=(h, w), strides=1, name=layer.name)(x)
            continue
        if kind == "Dense":
            conv, weights = _dense_to_conv(layer, kernel_shape)
            x = conv(x)
            conv.set_weights(weights)
            kernel_shape = (1, 1)
        elif kind in _PER_LOCATION:
            copy = type(layer).from_config(layer.get_config())
            x = copy(x)
            copy.set_weights(layer.get_weights())
        else:
            raise ValueError(
                f"Argument `classifier` has layer {layer.name!r} ({kind}) in its head, which "
                "has no convolutional equivalent here (supported: Dense, "
                f"{', '.join(_PER_LOCATION)}). Received: classifier={classifier.name!r}"
            )
    return keras.Model(inputs, x, name=f"{classifier.name}_fully_convolutional")
