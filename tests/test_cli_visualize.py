"""`keras-dlss visualize maximize|invert|dream|style` on a tiny saved CNN, in process."""

import keras
import numpy as np
import pytest
from PIL import Image

from keras_dlss.cli import main


@pytest.fixture(scope="module")
def cnn_path(tmp_path_factory):
    model = keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(3, name="logits"),
        ]
    )
    path = tmp_path_factory.mktemp("cnn") / "model.keras"
    model.save(path)
    return str(path)


def _png(path, shape):
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert np.asarray(image).shape == shape


@pytest.mark.parametrize(
    "argv",
    [
        ["maximize", "{model}", "--layer", "conv2", "--unit", "1", "--steps", "3"],
        [
            "invert",
            "{model}",
            "--layer",
            "conv1",
            "--image",
            "astronaut",
            "--steps",
            "3",
            "--no-xla",
        ],
        [
            "dream",
            "{model}",
            "--layers",
            "conv1,conv2",
            "--image",
            "{photo}",
            "--octaves",
            "2",
            "--steps",
            "2",
            "--no-xla",
        ],
    ],
    ids=["maximize", "invert", "dream"],
)
def test_each_method_writes_a_png_at_the_model_size(cnn_path, argv, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(photo)
    out = tmp_path / "out.png"
    argv = [a.format(model=cnn_path, photo=photo) for a in argv]
    assert main(["visualize", *argv, "--out", str(out)]) == 0
    _png(out, (12, 12, 3))
    printed = capsys.readouterr().out
    assert f"wrote: {out}" in printed
    if argv[0] == "invert":
        assert "relative feature error:" in printed


def test_style_without_a_model_uses_random_features(tmp_path, capsys):
    out = tmp_path / "style.png"
    argv = ["visualize", "style", "--content", "astronaut", "--style", "coffee", "--size", "16"]
    assert main([*argv, "--steps", "3", "--no-xla", "--out", str(out)]) == 0
    _png(out, (16, 16, 3))


def test_unknown_layer_is_a_one_line_error_listing_the_valid_names(cnn_path, tmp_path, capsys):
    argv = ["visualize", "maximize", cnn_path, "--layer", "conv9", "--unit", "0"]
    assert main([*argv, "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "conv9" in err and "Valid names: conv1, conv2, gap, logits" in err
    assert "Traceback" not in err
