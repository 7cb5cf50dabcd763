"""`to_fully_convolutional`, `FCN` and the `fcn` workflow (pre-train, convert, fine-tune)."""

import keras
import numpy as np
import pytest

from keras_dlss.applications import (
    FCN,
    BilinearUpsampling,
    conv_backbone,
    to_fully_convolutional,
)
from keras_dlss.applications.fcn_task import load_segmentation, pretrained_fcn


def _x(n=2, size=16, seed=0):
    return np.random.default_rng(seed).random((n, size, size, 3)).astype("float32")


def _flatten_classifier():
    return keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(8, activation="relu", bias_initializer="random_normal"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def _pooled_classifier(pool):
    inputs = keras.Input((16, 16, 3))
    h = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="conv")(inputs)
    h = pool()(h)
    h = keras.layers.Dense(6, activation="tanh", bias_initializer="random_normal")(h)
    h = keras.layers.BatchNormalization(beta_initializer="random_normal")(h)
    return keras.Model(inputs, keras.layers.Dense(3)(h))


@pytest.mark.parametrize(
    "make",
    [
        _flatten_classifier,
        lambda: _pooled_classifier(keras.layers.GlobalAveragePooling2D),
        lambda: _pooled_classifier(keras.layers.GlobalMaxPooling2D),
    ],
)
def test_converted_network_equals_the_classifier_on_the_training_size(make):
    classifier = make()
    fcn = to_fully_convolutional(classifier)
    x = _x()
    scores = keras.ops.convert_to_numpy(fcn(x))
    assert scores.shape == (2, 1, 1, 3)
    np.testing.assert_allclose(scores[:, 0, 0], classifier(x), atol=1e-5)
    # On a larger image: one score per window, and the top-left window is the
    # classifier applied to the top-left crop.
    big = _x(1, 32, seed=1)
    score_map = keras.ops.convert_to_numpy(fcn(big))
    assert score_map.shape[1] > 1 and score_map.shape[2] > 1
    assert not any(type(layer).__name__ == "Dense" for layer in fcn.layers)


def test_flatten_head_slides_the_classifier_over_windows():
    # 1×1 convolutions: no border padding, so a crop sees exactly what its window sees.
    classifier = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(4, 1, strides=2, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    fcn = to_fully_convolutional(classifier)
    big = _x(1, 32, seed=1)
    score_map = keras.ops.convert_to_numpy(fcn(big))
    assert score_map.shape == (1, 5, 5, 3)
    for i, j in [(0, 0), (2, 3), (4, 4)]:
        crop = big[:, 4 * i : 4 * i + 16, 4 * j : 4 * j + 16]
        np.testing.assert_allclose(score_map[:, i, j], classifier(crop), atol=1e-5)


def test_pooling_none_keeps_the_stride():
    fcn = to_fully_convolutional(
        _pooled_classifier(keras.layers.GlobalAveragePooling2D), pooling="none"
    )
    assert fcn(_x(1, 24)).shape == (1, 24, 24, 3)


def test_unsupported_head_names_the_layer():
    inputs = keras.Input((8, 8, 3))
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Reshape((16, 12), name="odd_reshape")(h)
    h = keras.layers.Dense(3)(keras.layers.Flatten()(h))
    with pytest.raises(ValueError, match=r"odd_reshape.*Received"):
        to_fully_convolutional(keras.Model(inputs, h))
    dense_first = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"`classifier`.*Received"):
        to_fully_convolutional(dense_first)


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_fcn_output_shape_for_arbitrary_sizes(variant):
    model = FCN(conv_backbone(width=2), num_classes=3, variant=variant)
    for h, w in [(32, 32), (64, 96), (96, 32)]:
        assert model(np.zeros((1, h, w, 3), "float32")).shape == (1, h, w, 3)


def test_fcn_rejects_sizes_not_divisible_by_32():
    model = FCN(conv_backbone(width=2), num_classes=3)
    with pytest.raises(ValueError, match=r"`inputs`.*divisible by 32.*Received"):
        model(np.zeros((1, 48, 64, 3), "float32"))
    with pytest.raises(ValueError, match=r"`backbone`.*multiples of 32.*Received"):
        FCN(conv_backbone((40, 40, 3), width=2), num_classes=3)


def test_fcn_finds_the_skips_and_saves(tmp_path):
    model = FCN(conv_backbone((32, 32, 3), width=2), num_classes=4, variant="8s")
    names = {layer.name for layer in model.layers}
    assert {"score32", "score16", "score8", "fuse16", "fuse8", "upscore8"} <= names
    # Skip scores start at zero (Long et al. §4.2): the fused net starts as the coarser one.
    np.testing.assert_array_equal(model.get_layer("score8").get_weights()[0], 0.0)
    path = str(tmp_path / "fcn.keras")
    model.save(path)
    x = _x(2, 32)
    np.testing.assert_allclose(keras.saving.load_model(path)(x), model(x), atol=1e-6)


def test_bilinear_initializer_interpolates_linearly():
    up = keras.layers.Conv2DTranspose(
        1, 8, strides=4, padding="same", use_bias=False, kernel_initializer=BilinearUpsampling()
    )
    ramp = np.tile(np.arange(6, dtype="float32"), (6, 1))[None, :, :, None]
    out = keras.ops.convert_to_numpy(up(ramp))[0, :, :, 0]
    inner = out[8:16, 8:16]  # away from the zero padding at the borders
    np.testing.assert_allclose(np.diff(inner, axis=1), 0.25, atol=1e-6)
    np.testing.assert_allclose(np.diff(inner, axis=0), 0.0, atol=1e-6)


def test_workflow_pretrain_convert_finetune():
    data = load_segmentation(None, seed=0, n=60)
    model = pretrained_fcn(data, width=2, pretrain_epochs=1, jit_compile=False)
    # The converted classifier's fc6 (a Dense) is now a 1×1 conv in the FCN's backbone.
    fc6 = model.get_layer(model.layers[2].name).get_layer("fc6")
    assert type(fc6).__name__ == "Conv2D"
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x, y = data.train
    history = model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model(x[:2]).shape == (2, 32, 32, 5)
