"""keras_dlss.visualization: each method does what it is for, by effect, on tiny fixed models.

Activation maximization raises the unit it targets, inversion brings the
features close to the target's, DeepDream raises the layers' energy, style
transfer lowers the Gram loss; the same seed gives the same image, XLA and
graph mode agree, and malformed calls name their argument.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.losses import gram_matrix_style_loss
from keras_dlss.visualization import (
    deep_dream,
    feature_extractor,
    invert_representation,
    load_image,
    maximize_activation,
    random_feature_extractor,
    save_image,
    style_transfer,
)

RNG = np.random.default_rng(0)
IMAGE = RNG.random((10, 10, 3)).astype("float32")


def _cnn(input_shape=(10, 10, 3)):
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.AveragePooling2D(2, name="pool"),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(4, name="logits"),
        ]
    )


@pytest.fixture(scope="module")
def cnn():
    return _cnn()


def _channel_mean(model, layer, image, unit):
    out = feature_extractor(model, layer)(image[None])[layer]
    return float(ops.convert_to_numpy(out)[..., unit].mean())


def test_maximize_raises_the_unit_far_above_its_mean_on_random_images(cnn):
    image = maximize_activation(
        cnn, "conv2", 3, steps=40, learning_rate=0.2, jitter_pixels=0, jit_compile=False
    )
    assert image.shape == (10, 10, 3) and 0.0 <= image.min() and image.max() <= 1.0
    reached = _channel_mean(cnn, "conv2", image, 3)
    baseline = np.mean([_channel_mean(cnn, "conv2", RNG.random((10, 10, 3)), 3) for _ in range(4)])
    assert reached > 4.0 * baseline
    # A dense unit and the pixel parameterization with every regularizer on.
    logit = maximize_activation(
        cnn,
        "logits",
        1,
        steps=30,
        parameterization="pixel",
        blur=0.2,
        l2_decay=0.01,
        tv_weight=0.1,
        jitter_pixels=1,
        jit_compile=False,
    )
    scores = ops.convert_to_numpy(cnn(np.stack([logit, np.full_like(logit, 0.5)])))[:, 1]
    assert scores[0] > scores[1]


def test_maximize_is_deterministic_per_seed_and_xla_matches_graph_mode(cnn):
    kwargs = dict(steps=12, learning_rate=0.1, blur=0.1, l2_decay=0.01)
    a = maximize_activation(cnn, "conv1", 2, seed=3, jit_compile=False, **kwargs)
    b = maximize_activation(cnn, "conv1", 2, seed=3, jit_compile=False, **kwargs)
    c = maximize_activation(cnn, "conv1", 2, seed=4, jit_compile=False, **kwargs)
    xla = maximize_activation(cnn, "conv1", 2, seed=3, jit_compile=True, **kwargs)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3
    np.testing.assert_allclose(xla, a, atol=1e-4)


def test_pre_activation_objective_leaves_the_layer_as_it_was(cnn):
    relu = cnn.get_layer("conv2").activation
    pre = maximize_activation(cnn, "conv2", 0, steps=4, pre_activation=True, jit_compile=False)
    post = maximize_activation(cnn, "conv2", 0, steps=4, jit_compile=False)
    assert cnn.get_layer("conv2").activation is relu
    assert pre.shape == post.shape == (10, 10, 3)


def test_inversion_reduces_the_relative_feature_error(cnn):
    features = feature_extractor(cnn, "conv1")
    target = ops.convert_to_numpy(features(IMAGE[None])["conv1"])
    start = RNG.random(IMAGE.shape).astype("float32")
    start_error = np.linalg.norm(ops.convert_to_numpy(features(start[None])["conv1"]) - target)
    start_error /= np.linalg.norm(target)
    image, error = invert_representation(
        cnn, "conv1", IMAGE, steps=60, learning_rate=0.05, jit_compile=False
    )
    assert image.shape == IMAGE.shape and 0.0 <= image.min() and image.max() <= 1.0
    achieved = np.linalg.norm(ops.convert_to_numpy(features(image[None])["conv1"]) - target)
    assert error == pytest.approx(achieved / np.linalg.norm(target), rel=1e-4)
    assert error < 0.5 * start_error
    # A batch comes back as a batch; XLA gives the same reconstruction as graph mode.
    batch, _ = invert_representation(cnn, "conv1", IMAGE[None], steps=5, jit_compile=False)
    xla, _ = invert_representation(cnn, "conv1", IMAGE[None], steps=5, jit_compile=True)
    assert batch.shape == (1, 10, 10, 3)
    np.testing.assert_allclose(xla, batch, atol=1e-4)


def test_deep_dream_raises_layer_energy_and_works_with_a_fixed_input_size():
    dynamic = _cnn(input_shape=(None, None, 3))
    photo = load_image("astronaut", size=16)
    dream = deep_dream(dynamic, photo, ["conv1", "conv2"], octaves=2, steps=6, jit_compile=False)
    assert dream.shape == photo.shape

    def energy(model, image):
        out = feature_extractor(model, ["conv1", "conv2"])(image[None])
        return sum(float(np.mean(np.square(ops.convert_to_numpy(v)))) for v in out.values())

    assert energy(dynamic, dream) > 1.1 * energy(dynamic, photo)
    fixed = _cnn()  # 10x10 input: every octave is resized to it inside the loop
    assert (
        deep_dream(fixed, photo, "conv2", octaves=2, steps=2, jit_compile=False).shape
        == photo.shape
    )


def test_style_transfer_lowers_the_gram_loss_with_random_features():
    extractor = random_feature_extractor(filters=(8, 16), seed=0)
    layers = ["block1_conv", "block2_conv"]
    content, style = load_image("astronaut", size=16), load_image("coffee", size=12)
    result = style_transfer(
        content, style, extractor, "block2_conv", layers, steps=40, jit_compile=False
    )
    assert result.shape == content.shape
    features = feature_extractor(extractor, layers)

    def gram_loss(image):
        mine, target = features(image[None]), features(style[None])
        return sum(float(gram_matrix_style_loss(target[n], mine[n])[0]) for n in layers)

    assert gram_loss(result) < 0.5 * gram_loss(content)


def test_random_feature_extractor_is_multi_scale_fixed_and_seeded():
    a = random_feature_extractor(filters=(4, 8, 16), seed=0)
    b = random_feature_extractor(filters=(4, 8, 16), seed=0)
    assert not a.trainable_weights
    out = feature_extractor(a, ["block1_conv", "block3_conv"])(np.zeros((1, 16, 16, 3)))
    assert out["block1_conv"].shape == (1, 16, 16, 4) and out["block3_conv"].shape == (1, 4, 4, 16)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_png_round_trip_and_photographs(tmp_path):
    path = save_image(IMAGE, tmp_path / "x")
    assert path.endswith(".png")
    np.testing.assert_allclose(load_image(path), IMAGE, atol=0.5 / 255 + 1e-6)
    gray = load_image(path, size=(4, 6), channels=1)
    assert gray.shape == (4, 6, 1)
    assert load_image("chelsea", size=8).shape == (8, 8, 3)
    with pytest.raises(ValueError, match="`source`.*Received"):
        load_image(str(tmp_path / "missing.png"))
    with pytest.raises(ValueError, match="`array`.*Received"):
        save_image(np.zeros((2, 3, 3, 3)), tmp_path / "y.png")


def test_layer_not_found_lists_the_valid_names(cnn):
    with pytest.raises(
        ValueError, match="`layer_name`.*Valid names: conv1, pool, conv2, gap, logits"
    ):
        maximize_activation(cnn, "conv9", 0)


class _Subclassed(keras.Model):
    def call(self, x):
        return x


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda m: invert_representation(m, "conv1", np.zeros((10, 10))), "image"),
        (lambda m: invert_representation(m, "conv1", np.zeros((10, 10, 1))), "image"),
        (lambda m: deep_dream(m, np.zeros((2, 2, 10, 10, 3)), "conv1"), "image"),
        (lambda m: deep_dream(m, IMAGE, "nope"), "layer_names"),
        (lambda m: invert_representation(m, "conv1", IMAGE, steps=0), "steps"),
        (lambda m: maximize_activation(m, "conv1", 0, steps=-1), "steps"),
        (lambda m: deep_dream(m, IMAGE, "conv1", octaves=0), "octaves"),
        (lambda m: maximize_activation(m, "conv1", 6), "unit"),
        (lambda m: maximize_activation(m, "conv1", 0, image_shape=(8, 8, 1)), "image_shape"),
        (
            lambda m: maximize_activation(m, "conv1", 0, parameterization="wavelet"),
            "parameterization",
        ),
        (lambda m: invert_representation(m, "conv1", IMAGE, value_range=(1, 0)), "value_range"),
        (lambda m: maximize_activation(_Subclassed(), "conv1", 0), "model"),
        (lambda m: maximize_activation(_cnn((None, None, 3)), "conv1", 0), "image_shape"),
        (
            lambda m: style_transfer(IMAGE, IMAGE, m, "conv1", ["missing"]),
            "style_layers",
        ),
        (lambda m: style_transfer(IMAGE, IMAGE[..., :1], m, "conv1", "conv2"), "style"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(cnn, call, argument):
    with pytest.raises(ValueError, match=f"`{argument}`.*Received"):
        call(cnn)
