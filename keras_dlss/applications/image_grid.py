"""A PNG grid of sample images, written with the standard library only.

Every generative application (`keras-dlss generate dcgan|cgan|cvae|cyclegan`)
and the docs' sample pictures go through `save_image_grid`. The PNG encoder
is the format's minimum (8-bit greyscale or RGB, filter type 0, one zlib
stream), so writing a picture needs neither Pillow nor matplotlib.
"""

import os
import struct
import zlib

import numpy as np

from keras_dlss._validation import check_positive_int

__all__ = ["image_grid", "save_image_grid"]


def _as_uint8(images, value_range):
    """Maps float images from `value_range` (or auto-detected) to uint8."""
    if images.dtype == np.uint8:
        return images
    images = images.astype(np.float64)
    if value_range is None:
        # Generators end in sigmoid ([0, 1]) or tanh ([-1, 1]); a negative pixel means tanh.
        value_range = (-1.0, 1.0) if images.size and images.min() < 0 else (0.0, 1.0)
    if not (isinstance(value_range, (tuple, list)) and len(value_range) == 2) or not (
        value_range[1] > value_range[0]
    ):
        raise ValueError(
            "Argument `value_range` must be a (low, high) pair with low < high. "
            f"Received: value_range={value_range!r}"
        )
    low, high = float(value_range[0]), float(value_range[1])
    scaled = (np.clip(images, low, high) - low) / (high - low)
    return np.round(scaled * 255.0).astype(np.uint8)


def image_grid(images, nrow=None, *, value_range=None, padding=1, scale=1):
    """Tiles a batch of images into one uint8 picture.

    Args:
        images: array `[n, h, w]`, `[n, h, w, 1]` or `[n, h, w, 3]`: floats in
            `[0, 1]` or `[-1, 1]` (detected: any negative value means
            `[-1, 1]`; values outside the range are clipped), or uint8.
        nrow: int or None. Images per row (as torchvision's `make_grid`);
            None: `ceil(sqrt(n))`. Defaults to `None`.
        value_range: `(low, high)` or None. Overrides the detected range.
            Defaults to `None`.
        padding: int. Black pixels between and around images. Defaults to `1`.
        scale: int. Each pixel becomes a `scale x scale` block (8x8 digits are
            too small to see at 1). Defaults to `1`.

    Returns:
        uint8 array `[H, W]` (greyscale) or `[H, W, 3]` (RGB).

    Example:

    ```python
    grid = image_grid(np.random.rand(6, 8, 8, 1), nrow=3)
    assert grid.shape == (2 * 9 + 1, 3 * 9 + 1) and grid.dtype == np.uint8
    ```
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
        raise ValueError(
            "Argument `images` must have shape [n, h, w], [n, h, w, 1] or [n, h, w, 3]. "
            f"Received: images.shape={images.shape}"
        )
    if images.shape[0] == 0:
        raise ValueError(
            f"Argument `images` must hold at least one image. Received: images.shape={images.shape}"
        )
    n = images.shape[0]
    nrow = int(np.ceil(np.sqrt(n))) if nrow is None else check_positive_int("nrow", nrow)
    padding = check_positive_int("padding", padding, minimum=0)
    scale = check_positive_int("scale", scale)
    pixels = _as_uint8(images, value_range)
    if scale > 1:
        pixels = pixels.repeat(scale, axis=1).repeat(scale, axis=2)
    h, w = pixels.shape[1:3]
    cols, rows = min(nrow, n), -(-n // nrow)
    grid = np.zeros(
        (rows * (h + padding) + padding, cols * (w + padding) + padding) + pixels.shape[3:],
        np.uint8,
    )
    for i in range(n):
        top = padding + (i // nrow) * (h + padding)
        left = padding + (i % nrow) * (w + padding)
        grid[top : top + h, left : left + w] = pixels[i]
    return grid


def _chunk(kind, payload):
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def write_png(picture, path):
    """Writes a uint8 `[H, W]` or `[H, W, 3]` array as an 8-bit PNG file."""
    picture = np.ascontiguousarray(picture, dtype=np.uint8)
    height, width = picture.shape[:2]
    color_type = 2 if picture.ndim == 3 else 0  # RGB or greyscale
    rows = picture.reshape(height, -1)
    # Filter type 0 ("None") before each scanline.
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(_chunk(b"IHDR", header))
        f.write(_chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(_chunk(b"IEND", b""))
    return path


def save_image_grid(images, path, nrow=None, **kwargs):
    """Writes a batch of images as one PNG grid.

    Args:
        images: array `[n, h, w]`, `[n, h, w, 1]` or `[n, h, w, 3]`, floats in
            `[0, 1]` (sigmoid outputs) or `[-1, 1]` (tanh outputs; detected
            when any value is negative), or uint8. Out-of-range values are
            clipped.
        path: str. The PNG file to write (folders are created).
        nrow: int or None. Images per row; None: `ceil(sqrt(n))`. Defaults
            to `None`.
        **kwargs: `value_range`, `padding`, `scale`, as for `image_grid`.

    Returns:
        `path`.

    Example:

    ```python
    import tempfile, os
    path = os.path.join(tempfile.mkdtemp(), "grid.png")
    save_image_grid(np.random.uniform(-1, 1, (10, 8, 8, 1)), path, nrow=5, scale=2)
    assert open(path, "rb").read(4) == b"\\x89PNG"
    ```
    """
    return write_png(image_grid(images, nrow, **kwargs), path)
