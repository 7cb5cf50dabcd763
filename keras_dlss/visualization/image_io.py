"""Reading and writing the images of `keras_dlss.visualization` (Pillow).

Images are float arrays in `value_range` (default `[0, 1]`), channels last,
the form every visualization function takes and returns; PNG is the output
format because it is lossless (JPEG's blocking would hide the fine patterns
that feature visualizations are about).
"""

import os

import numpy as np

from keras_dlss.datasets.images import PHOTOGRAPH_NAMES, sample_photographs

__all__ = ["load_image", "save_image"]


def _require_pillow():
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError(
            "Saving and loading images needs Pillow, part of the `data` extra: "
            "pip install 'keras-dlss[data]'"
        ) from e
    return Image


def save_image(array, path, value_range=(0.0, 1.0)):
    """Writes a float image to a PNG file, clipping to `value_range` first.

    Args:
        array: `[height, width]`, `[height, width, 1 | 3 | 4]` or `[1, height, width, c]`
            array (NumPy or tensor).
        path: str. Output file; `.png` is added when it has no extension.
        value_range: `(low, high)` mapped to 0 and 255. Defaults to `(0.0, 1.0)`.

    Returns:
        The path written (str).

    Example:

    ```python
    path = save_image(np.random.rand(8, 8, 3), "noise.png")
    assert path == "noise.png"
    ```
    """
    from keras import ops

    Image = _require_pillow()
    image = np.asarray(ops.convert_to_numpy(array), np.float32)
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (3, 4)):
        raise ValueError(
            "Argument `array` must be an image [height, width] or [height, width, 1|3|4]. "
            f"Received: array.shape={np.shape(array)}"
        )
    low, high = (float(v) for v in value_range)
    if not low < high:
        raise ValueError(
            f"Argument `value_range` must have low < high. Received: value_range={value_range!r}"
        )
    scaled = np.clip((image - low) / (high - low), 0.0, 1.0)
    path = str(path) if os.path.splitext(str(path))[1] else f"{path}.png"
    Image.fromarray(np.round(scaled * 255.0).astype(np.uint8)).save(path)
    return path


def load_image(source, size=None, channels=3):
    """Reads an image file, or one of scikit-image's bundled photographs by name, as floats in [0, 1].

    Args:
        source: str. A file path (PNG, JPEG, ... anything Pillow reads) or a name in
            `keras_dlss.datasets.PHOTOGRAPH_NAMES` (e.g. `"astronaut"`).
        size: None, int or `(height, width)`. Resize (bilinear) to this size; an int
            makes a square. Defaults to `None` (keep the size).
        channels: 1 or 3. Grayscale or RGB. Defaults to `3`.

    Returns:
        A float32 NumPy array `[height, width, channels]` in `[0, 1]`.

    Raises:
        ValueError: `source` is neither a readable image nor a photograph name.

    Example:

    ```python
    image = load_image("astronaut", size=32)
    assert image.shape == (32, 32, 3)
    ```
    """
    Image = _require_pillow()
    if channels not in (1, 3):
        raise ValueError(f"Argument `channels` must be 1 or 3. Received: channels={channels!r}")
    if source in PHOTOGRAPH_NAMES and not os.path.exists(source):
        pixels = np.round(sample_photographs([source])[source] * 255).astype(np.uint8)
        image = Image.fromarray(pixels)
    else:
        try:
            with Image.open(source) as opened:
                image = opened.convert("RGB")
        except (OSError, ValueError) as e:
            raise ValueError(
                f"Argument `source` must be an image file or one of {list(PHOTOGRAPH_NAMES)}. "
                f"Received: source={source!r} ({e})"
            ) from None
    if size is not None:
        height, width = (size, size) if isinstance(size, int) else tuple(size)
        image = image.resize((int(width), int(height)), Image.BILINEAR)
    image = image.convert("L" if channels == 1 else "RGB")
    array = np.asarray(image, np.float32) / 255.0
    return array[..., None] if channels == 1 else array
