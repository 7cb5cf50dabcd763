"""A feature extractor from any Keras image model, and the image checks every method shares.

Every visualization method reads intermediate activations by layer name. A
functional or `Sequential` model already records which tensor each layer
produced, so `feature_extractor` is a new functional `keras.Model` from the
model's input to those tensors: it shares the weights (nothing is copied) and
compiles like any model. Subclassed models have no such graph; users wrap them
in a functional model first, and the error says so.
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import _shape_str

__all__ = ["feature_extractor"]


def _layer_names(model):
    return [layer.name for layer in model.layers]


def _check_model(model):
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"Argument `model` must be a keras.Model. Received: model of type {type(model).__name__}"
        )
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs or len(inputs) != 1:
        raise ValueError(
            "Argument `model` must be a built functional or Sequential model with one image "
            "input (wrap a subclassed model: `keras.Model(inputs, model(inputs))`). "
            f"Received: model={model.name!r} with inputs={inputs!r}"
        )
    if len(inputs[0].shape) != 4:
        raise ValueError(
            "Argument `model` must take images `[batch, height, width, channels]`. "
            f"Received: model input shape {_shape_str(inputs[0].shape)}"
        )
    return inputs[0]


def feature_extractor(model, layer_names, argument_name="layer_names"):
    """A model from `model`'s image input to the outputs of the named layers.

    Args:
        model: a functional or `Sequential` Keras model taking channels-last images.
        layer_names: str or list of str. Names of layers of `model` (`model.layers`).
        argument_name: str. The argument named in errors (the public function's own
            argument, e.g. `"layer_name"`). Defaults to `"layer_names"`.

    Returns:
        A `keras.Model` returning a dict `{layer name: activation}`; it shares
        `model`'s weights.

    Raises:
        ValueError: `model` has no single image input, or a layer name is not in
            `model` (the message lists the valid names).

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, name="conv"),
        keras.layers.GlobalAveragePooling2D(name="pool"),
    ])
    features = feature_extractor(model, ["conv", "pool"])(np.zeros((1, 8, 8, 3)))
    assert features["conv"].shape == (1, 6, 6, 4)
    ```
    """
    image_input = _check_model(model)
    names = [layer_names] if isinstance(layer_names, str) else list(layer_names)
    if not names:
        raise ValueError(
            f"Argument `{argument_name}` must name at least one layer. "
            f"Received: {argument_name}={layer_names!r}"
        )
    valid = _layer_names(model)
    for name in names:
        if name not in valid:
            raise ValueError(
                f"Argument `{argument_name}` must name layers of `model`; {name!r} is not one. "
                f"Valid names: {', '.join(valid)}. Received: {argument_name}={layer_names!r}"
            )
    outputs = {name: model.get_layer(name).output for name in names}
    return keras.Model(image_input, outputs, name=f"{model.name}_features")


def model_image_shape(model):
    """`(height, width, channels)` of the model's image input; unknown dims are None."""
    return tuple(None if d is None else int(d) for d in _check_model(model).shape[1:])


def check_image(name, image, channels=None):
    """`image` as float32 `[batch, h, w, c]` and whether it came without a batch axis."""
    array = np.asarray(ops.convert_to_numpy(image) if not isinstance(image, np.ndarray) else image)
    if array.ndim not in (3, 4):
        raise ValueError(
            f"Argument `{name}` must be an image `[height, width, channels]` or a batch "
            f"`[batch, height, width, channels]`. Received: {name}.shape={array.shape}"
        )
    single = array.ndim == 3
    array = array[None] if single else array
    if channels is not None and array.shape[-1] != channels:
        raise ValueError(
            f"Argument `{name}` has {array.shape[-1]} channels but the model takes {channels}. "
            f"Received: {name}.shape={array.shape[1:] if single else array.shape}"
        )
    if min(array.shape[1:3]) < 2:
        raise ValueError(
            f"Argument `{name}` must be at least 2x2 pixels. Received: {name}.shape={array.shape}"
        )
    return array.astype("float32"), single


def call_features(extractor, images):
    """`extractor(images)`, resizing first when the model has a fixed, different input size."""
    height, width = (None if d is None else int(d) for d in extractor.inputs[0].shape[1:3])
    if (height, width) != (None, None):
        size = (height or images.shape[1], width or images.shape[2])
        if size != tuple(images.shape[1:3]):
            # Bilinear resizing is differentiable, so any image size reaches any model.
            images = ops.image.resize(images, size, interpolation="bilinear")
    return extractor(images, training=False)


def check_value_range(value_range):
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        low, high = 0.0, -1.0
    if not low < high:
        raise ValueError(
            "Argument `value_range` must be a pair (low, high) with low < high. "
            f"Received: value_range={value_range!r}"
        )
    return low, high
