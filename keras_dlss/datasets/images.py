"""Image data without a download: scikit-learn's digits, a user's folder, scikit-image's photos.

Everything comes back as float32 NumPy arrays in ``[0, 1]``, channels last,
ready for `keras.Model.fit`. The optional packages (scikit-learn,
scikit-image, Pillow) are the `data` extra; each function imports its own
package when called, so `import keras_dlss.datasets` never needs them.
"""

import os
import warnings

import numpy as np

from keras_dlss._validation import check_positive_int

__all__ = ["PHOTOGRAPH_NAMES", "digits", "image_folder", "sample_photographs"]

# Photographs shipped inside the scikit-image wheel (no pooch download).
PHOTOGRAPH_NAMES = ("astronaut", "camera", "chelsea", "coffee", "coins", "moon", "rocket")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _require(module, package):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as e:
        raise ImportError(
            f"This function needs `{package}`, part of the `data` extra: "
            "pip install 'keras-dlss[data]'"
        ) from e


def _resize(images, size):
    """Bilinear resize of float [n, h, w, c] images to [n, size, size, c]."""
    from keras import ops

    if images.shape[1:3] == (size, size):
        return images
    out = ops.image.resize(images, (size, size), interpolation="bilinear", antialias=True)
    return np.clip(ops.convert_to_numpy(out), 0.0, 1.0).astype(np.float32)


def digits(image_size=8):
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images), optionally resized.

    Args:
        image_size: int. Side of the returned images; 8 keeps the originals,
            16 or 32 upsample them bilinearly. Defaults to `8`.

    Returns:
        A tuple `(x, y)`: `x` float32 `[1797, image_size, image_size, 1]` in
        `[0, 1]` (the original 0-16 grey levels divided by 16), `y` int32
        `[1797]` digit labels 0-9.

    Example:

    ```python
    x, y = digits(image_size=16)
    assert x.shape == (1797, 16, 16, 1) and y.max() == 9
    ```
    """
    image_size = check_positive_int("image_size", image_size)
    datasets = _require("sklearn.datasets", "scikit-learn")
    bunch = datasets.load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[..., None]
    return _resize(x, image_size), bunch.target.astype(np.int32)


def _image_size_pair(image_size):
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if (
        not isinstance(image_size, (tuple, list))
        or len(image_size) != 2
        or not all(isinstance(s, (int, np.integer)) and s >= 1 for s in image_size)
    ):
        raise ValueError(
            "Argument `image_size` must be a positive int or a (height, width) pair of "
            f"positive ints. Received: image_size={image_size!r}"
        )
    return int(image_size[0]), int(image_size[1])


def _class_files(path):
    """{class name: sorted image paths} for each subfolder of `path`, with the errors users hit."""
    if not os.path.isdir(path):
        raise ValueError(f"Argument `path` must be an existing folder. Received: path={path!r}")
    classes = sorted(
        d
        for d in os.listdir(path)
        if not d.startswith(".") and os.path.isdir(os.path.join(path, d))
    )
    if not classes:
        raise ValueError(
            "Argument `path` must hold one subfolder of images per class; found no "
            f"subfolders. Received: path={path!r}"
        )
    files = {}
    for name in classes:
        folder = os.path.join(path, name)
        files[name] = sorted(
            os.path.join(folder, f)
            for f in os.listdir(folder)
            if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS)
        )
        if not files[name]:
            raise ValueError(
                f"Class folder {folder!r} holds no images (looked for "
                f"{', '.join(IMAGE_EXTENSIONS)}). Remove it or add images."
            )
    return files


def _load(file, size, mode):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as img:
            img = img.convert(mode).resize((size[1], size[0]), Image.BILINEAR)
            return np.asarray(img, dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise ValueError(f"Could not read image file {file!r}: {e}") from e


def image_folder(path, image_size, color_mode="rgb", imbalance_ratio=2.0):
    """Loads a folder-per-class image collection (`path/<class>/<image>.png`) into arrays.

    Class names are the subfolder names in sorted order; files other than
    PNG, JPEG, BMP and GIF (and hidden files) are skipped. Every image is
    resized bilinearly to `image_size`, ignoring its aspect ratio. When the
    largest class has more than `imbalance_ratio` times the images of the
    smallest, a `UserWarning` reports the count of every class (the counts
    themselves are `np.bincount(y)`).

    Args:
        path: str. The folder holding one subfolder per class.
        image_size: int or `(height, width)`. Size of the returned images.
        color_mode: str. `"rgb"` (3 channels) or `"grayscale"` (1 channel).
            Defaults to `"rgb"`.
        imbalance_ratio: float. Largest-to-smallest class ratio above which
            the imbalance warning is given. Defaults to `2.0`.

    Returns:
        A tuple `(x, y, class_names)`: `x` float32 `[n, height, width, c]` in
        `[0, 1]`, `y` int32 `[n]` indices into `class_names`, a list of str.

    Raises:
        ValueError: `path` is missing or has no class subfolders, a class
            folder holds no images, or an image file cannot be read (the
            message names the file).

    Example:

    ```python
    import os
    for name in ["cats", "dogs"]:
        os.makedirs(f"pets/{name}")
        keras.utils.save_img(f"pets/{name}/0.png", np.zeros((5, 7, 3)))
    x, y, class_names = image_folder("pets", image_size=4)
    assert x.shape == (2, 4, 4, 3) and class_names == ["cats", "dogs"]
    ```
    """
    size = _image_size_pair(image_size)
    modes = {"rgb": "RGB", "grayscale": "L"}
    if color_mode not in modes:
        raise ValueError(
            f"Argument `color_mode` must be one of {sorted(modes)}. Received: color_mode={color_mode!r}"
        )
    _require("PIL.Image", "pillow")
    files = _class_files(path)
    images, labels = [], []
    for label, name in enumerate(files):
        for file in files[name]:
            images.append(_load(file, size, modes[color_mode]))
            labels.append(label)
    counts = {name: len(f) for name, f in files.items()}
    if max(counts.values()) > imbalance_ratio * min(counts.values()):
        warnings.warn(
            f"Classes in {path!r} are imbalanced (largest/smallest > {imbalance_ratio}): "
            f"{counts}. Consider class weights or resampling.",
            stacklevel=2,
        )
    x = np.stack(images).astype(np.float32)
    if x.ndim == 3:
        x = x[..., None]
    return x, np.asarray(labels, np.int32), list(files)


def sample_photographs(names=None):
    """The photographs bundled with scikit-image, as float arrays for visualization demos.

    Args:
        names: list of str, or None for all of `PHOTOGRAPH_NAMES` (astronaut,
            camera, chelsea, coffee, coins, moon, rocket). Defaults to `None`.

    Returns:
        A dict from name to a float32 `[height, width, 3]` array in `[0, 1]`;
        the grayscale photographs (camera, coins, moon) are repeated on three
        channels so every entry can go through the same RGB pipeline. Sizes
        differ (e.g. astronaut is 512x512, coffee 400x600).

    Raises:
        ImportError: scikit-image is not installed (the `data` extra).

    Example:

    ```python
    photos = sample_photographs(["astronaut", "camera"])
    assert photos["camera"].shape == (512, 512, 3)
    ```
    """
    names = list(PHOTOGRAPH_NAMES if names is None else names)
    for name in names:
        if name not in PHOTOGRAPH_NAMES:
            raise ValueError(
                f"Argument `names` must hold names from {list(PHOTOGRAPH_NAMES)}. "
                f"Received: names containing {name!r}"
            )
    data = _require("skimage.data", "scikit-image")
    photos = {}
    for name in names:
        image = np.asarray(getattr(data, name)(), dtype=np.float32) / 255.0
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=-1)
        photos[name] = image[..., :3]
    return photos
