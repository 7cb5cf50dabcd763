import os

import numpy as np
import pytest

from keras_dlss.datasets import PHOTOGRAPH_NAMES, digits, image_folder, sample_photographs

Image = pytest.importorskip("PIL.Image")


def _write(path, colour, size=(6, 5)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def test_digits_original_and_resized():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    x8, y = digits()
    assert x8.shape == (1797, 8, 8, 1) and x8.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_allclose(x8[..., 0], load_digits().images / 16.0, rtol=1e-6)
    np.testing.assert_array_equal(y, load_digits().target)
    x32, _ = digits(image_size=32)
    assert x32.shape == (1797, 32, 32, 1)
    assert 0.0 <= x32.min() and x32.max() <= 1.0
    # Upsampling keeps the mean intensity (bilinear is a local average).
    np.testing.assert_allclose(x32.mean(axis=(1, 2, 3)), x8.mean(axis=(1, 2, 3)), atol=0.03)


def test_digits_rejects_bad_size():
    with pytest.raises(ValueError, match="Argument `image_size` must be an integer >= 1"):
        digits(image_size=0)


def test_image_folder_loads_classes_in_sorted_order(tmp_path):
    _write(str(tmp_path / "red" / "a.png"), (255, 0, 0))
    _write(str(tmp_path / "red" / "b.jpg"), (255, 0, 0))
    _write(str(tmp_path / "blue" / "a.png"), (0, 0, 255))
    (tmp_path / "blue" / "notes.txt").write_text("skipped")
    x, y, names = image_folder(str(tmp_path), image_size=(4, 3))
    assert names == ["blue", "red"]
    assert x.shape == (3, 4, 3, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 1, 1])
    np.testing.assert_allclose(x[0].mean(axis=(0, 1)), [0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(x[1].mean(axis=(0, 1)), [1, 0, 0], atol=0.02)  # the JPEG
    gray, _, _ = image_folder(str(tmp_path), image_size=2, color_mode="grayscale")
    assert gray.shape == (3, 2, 2, 1)


def test_image_folder_reports_imbalance_as_warning(tmp_path):
    for i in range(5):
        _write(str(tmp_path / "many" / f"{i}.png"), (0, 255, 0))
    _write(str(tmp_path / "few" / "0.png"), (0, 0, 0))
    with pytest.warns(UserWarning, match=r"imbalanced .*\{'few': 1, 'many': 5\}"):
        image_folder(str(tmp_path), image_size=2)


def test_image_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="Argument `path` must be an existing folder"):
        image_folder(str(tmp_path / "missing"), image_size=4)
    with pytest.raises(ValueError, match="found no subfolders"):
        image_folder(str(tmp_path), image_size=4)
    os.makedirs(tmp_path / "empty")
    _write(str(tmp_path / "full" / "0.png"), (0, 0, 0))
    with pytest.raises(ValueError, match="Class folder .*empty' holds no images"):
        image_folder(str(tmp_path), image_size=4)
    (tmp_path / "empty" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"Could not read image file .*broken\.png"):
        image_folder(str(tmp_path), image_size=4)
    with pytest.raises(ValueError, match="Argument `image_size` must be a positive int"):
        image_folder(str(tmp_path), image_size=(4,))
    with pytest.raises(ValueError, match="Argument `color_mode` must be one of"):
        image_folder(str(tmp_path), image_size=4, color_mode="cmyk")


def test_sample_photographs():
    pytest.importorskip("skimage")
    photos = sample_photographs()
    assert sorted(photos) == sorted(PHOTOGRAPH_NAMES)
    for image in photos.values():
        assert image.ndim == 3 and image.shape[-1] == 3 and image.dtype == np.float32
        assert 0.0 <= image.min() and image.max() <= 1.0
    assert photos["coffee"].shape == (400, 600, 3)
    with pytest.raises(ValueError, match="Argument `names` must hold names from"):
        sample_photographs(["lena"])
