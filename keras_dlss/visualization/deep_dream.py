"""DeepDream: amplify whatever the chosen layers already see in an image.

Mordvintsev, Olah and Tyka ("Inceptionism: Going Deeper into Neural
Networks", Google Research blog, 2015) run gradient ascent on an image to
increase the squared activations of some layers, so patterns a layer barely
detects grow into visible ones. Working at several scales ("octaves") lets
the patterns grow larger than a unit's receptive field: the image is
optimized from a small version up to full size, and after each octave the
detail that shrinking removed is added back. Each step divides the gradient
by its mean absolute value (the reference implementation's normalization),
so the step size means "pixels per step" whatever the layer's scale; random
jitter each step keeps the result from locking onto the pixel grid.

Each octave is one compiled loop (its image size is static); a model with a
fixed input size sees every octave resized to that size.
"""

import numpy as np
from keras import ops

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.autodiff import vjp
from keras_dlss.visualization._optimize import compile_function, jitter, jitter_offsets
from keras_dlss.visualization.feature_extraction import (
    call_features,
    check_image,
    check_value_range,
    feature_extractor,
    model_image_shape,
)

__all__ = ["deep_dream"]


def _resize(images, size):
    return ops.convert_to_numpy(ops.image.resize(images, size, interpolation="bilinear"))


def _octave_sizes(height, width, octaves, octave_scale):
    sizes = []
    for k in reversed(range(octaves)):
        factor = octave_scale**k
        sizes.append((max(2, round(height / factor)), max(2, round(width / factor))))
    return sizes


def _ascend(
    extractor, layer_names, images, steps, step_size, jitter_pixels, seed, value_range, jit_compile
):
    low, high = value_range
    offsets = jitter_offsets(steps, jitter_pixels, seed)

    def objective(x, step):
        outputs = call_features(extractor, jitter(x, offsets, step, jitter_pixels))
        return sum(ops.mean(ops.square(outputs[name])) for name in layer_names)

    def body(step, x):
        value, pullback = vjp(lambda y: objective(y, step), x)
        (g,) = pullback(ops.ones_like(value))
        g = ops.reshape(g, tuple(x.shape))  # TF loses the static batch size in slice gradients
        g = g / (ops.mean(ops.abs(g)) + 1e-8)
        return ops.clip(x + step_size * (high - low) * g, low, high)

    run = compile_function(lambda x: ops.fori_loop(0, steps, body, x), jit_compile)
    return ops.convert_to_numpy(run(ops.convert_to_tensor(images)))


def deep_dream(
    model,
    image,
    layer_names,
    octaves=3,
    steps=20,
    step_size=0.01,
    octave_scale=1.4,
    jitter_pixels=2,
    value_range=(0.0, 1.0),
    seed=0,
    jit_compile=True,
):
    """Multi-scale gradient ascent on an image to amplify the activations of some layers.

    Args:
        model: a functional or `Sequential` Keras model taking channels-last images.
        image: `[height, width, channels]` image (or a batch) in `value_range`.
        layer_names: str or list of str. Layers whose mean squared activation is
            increased (summed over layers).
        octaves: int >= 1. Number of scales, each `octave_scale` times the last. Defaults to `3`.
        steps: int >= 1. Gradient steps per octave. Defaults to `20`.
        step_size: float > 0. Step size as a fraction of `value_range`'s width
            (the gradient is normalized by its mean absolute value). Defaults to `0.01`.
        octave_scale: float > 1. Size ratio between octaves. Defaults to `1.4`.
        jitter_pixels: int >= 0. Random shift each step. Defaults to `2`.
        value_range: `(low, high)` of the model's pixel values. Defaults to `(0.0, 1.0)`.
        seed: int. Seeds the jitter. Defaults to `0`.
        jit_compile: bool. Compile each octave's loop with XLA (TensorFlow, JAX).
            Defaults to `True`.

    Returns:
        A float32 NumPy image shaped like `image`, in `value_range`.

    Raises:
        ValueError: unknown layer name, wrong `image` rank or channels, `steps` or
            `octaves` < 1, or another argument out of range.

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((None, None, 3)),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
    ])
    image = np.random.default_rng(0).random((8, 8, 3)).astype("float32")
    dream = deep_dream(model, image, "conv", octaves=2, steps=2, jit_compile=False)
    assert dream.shape == image.shape
    ```

    Reference: Mordvintsev, Olah and Tyka, "Inceptionism: Going Deeper into
    Neural Networks", Google Research blog, 2015.
    """
    names = [layer_names] if isinstance(layer_names, str) else list(layer_names)
    extractor = feature_extractor(model, names)
    images, single = check_image("image", image, model_image_shape(model)[2])
    octaves = check_positive_int("octaves", octaves)
    steps = check_positive_int("steps", steps)
    check_range("step_size", step_size, 0.0, low_inclusive=False)
    check_range("octave_scale", octave_scale, 1.0, low_inclusive=False)
    jitter_pixels = check_positive_int("jitter_pixels", jitter_pixels, minimum=0)
    value_range = check_value_range(value_range)

    original = images
    sizes = _octave_sizes(images.shape[1], images.shape[2], octaves, float(octave_scale))
    shrunk = _resize(original, sizes[0])
    dream = shrunk
    for k, size in enumerate(sizes):
        dream = _resize(dream, size)
        dream = _ascend(
            extractor,
            names,
            dream,
            steps,
            step_size,
            jitter_pixels,
            seed + k,
            value_range,
            jit_compile,
        )
        # Shrinking and re-growing blurs: put back the detail the small copy lost.
        same_size = _resize(original, size)
        dream = dream + same_size - _resize(shrunk, size)
        shrunk = same_size
    dream = np.clip(dream, *value_range).astype("float32")
    return dream[0] if single else dream
