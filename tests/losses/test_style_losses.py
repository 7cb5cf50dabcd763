"""Style-transfer losses: Gram matrices, feature reconstruction and total variation.

Each functional form is checked against a NumPy brute-force reference, its
gradients against float64 finite differences, its classes through
serialization and a compiled (XLA) call, and its errors by message.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.debugging import gradient_check
from keras_dlss.losses import (
    FeatureReconstruction,
    GramMatrixStyle,
    TotalVariation,
    feature_reconstruction_loss,
    gram_matrix,
    gram_matrix_style_loss,
    total_variation_loss,
)
from keras_dlss.visualization._optimize import compile_function

RNG = np.random.default_rng(0)


def _gram_reference(f):
    b, h, w, c = f.shape
    out = np.zeros((b, c, c))
    for n in range(b):
        for i in range(c):
            for j in range(c):
                out[n, i, j] = sum(
                    f[n, y, x, i] * f[n, y, x, j] for y in range(h) for x in range(w)
                )
    return out / (h * w)


def _tv_reference(x, beta, eps=1e-8):
    b, h, w, c = x.shape
    out = np.zeros(b)
    for n in range(b):
        for y in range(h - 1):
            for xx in range(w - 1):
                for k in range(c):
                    dx = x[n, y, xx + 1, k] - x[n, y, xx, k]
                    dy = x[n, y + 1, xx, k] - x[n, y, xx, k]
                    s = dx * dx + dy * dy
                    out[n] += s if beta == 2 else (s + eps) ** (beta / 2)
    return out / ((h - 1) * (w - 1) * c)


def test_gram_matrix_matches_brute_force_sum_over_positions():
    f = RNG.normal(size=(2, 3, 4, 5))
    np.testing.assert_allclose(ops.convert_to_numpy(gram_matrix(f)), _gram_reference(f), rtol=1e-5)
    flat = f.reshape(2, 12, 5)  # [batch, positions, channels] gives the same matrix
    np.testing.assert_allclose(
        ops.convert_to_numpy(gram_matrix(flat)), _gram_reference(f), rtol=1e-5
    )


def test_style_loss_matches_reference_across_image_sizes():
    style, mine = RNG.normal(size=(1, 5, 6, 3)), RNG.normal(size=(2, 3, 4, 3))
    expected = ((_gram_reference(mine) - _gram_reference(style)) ** 2).mean(axis=(1, 2))
    got = ops.convert_to_numpy(gram_matrix_style_loss(style, mine))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    reduced = float(GramMatrixStyle()(style, mine))
    np.testing.assert_allclose(reduced, expected.mean(), rtol=1e-5)
    assert float(gram_matrix_style_loss(mine, mine)[0]) == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("normalize", [False, True])
def test_feature_reconstruction_matches_reference(normalize):
    target, mine = RNG.normal(size=(2, 3, 3, 4)), RNG.normal(size=(2, 3, 3, 4))
    expected = ((mine - target) ** 2).mean(axis=(1, 2, 3))
    if normalize:
        expected = expected / (target**2).mean(axis=(1, 2, 3))
    got = ops.convert_to_numpy(feature_reconstruction_loss(target, mine, normalize=normalize))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    reduced = float(FeatureReconstruction(normalize=normalize)(target, mine))
    np.testing.assert_allclose(reduced, expected.mean(), rtol=1e-5)


@pytest.mark.parametrize("beta", [1.0, 2.0, 3.0])
def test_total_variation_matches_reference(beta):
    x = RNG.random((2, 4, 5, 2))
    got = ops.convert_to_numpy(total_variation_loss(x, beta=beta))
    np.testing.assert_allclose(got, _tv_reference(x, beta), rtol=1e-5)
    np.testing.assert_allclose(float(TotalVariation(beta=beta)(None, x)), got.mean(), rtol=1e-5)
    assert float(total_variation_loss(np.ones((1, 3, 3, 1)))[0]) == 0.0  # a flat image


def test_gradients_match_float64_finite_differences():
    style, target = RNG.normal(size=(1, 3, 3, 2)), RNG.normal(size=(2, 3, 3, 2))
    x = RNG.normal(size=(2, 3, 3, 2))
    gradient_check(lambda f: gram_matrix_style_loss(style, f), (x,))
    gradient_check(lambda f: feature_reconstruction_loss(target, f, normalize=True), (x,))
    gradient_check(lambda f: total_variation_loss(f, beta=2.0), (x,))
    gradient_check(lambda f: total_variation_loss(f, beta=1.0, epsilon=1e-3), (x,))


@pytest.mark.parametrize(
    "loss",
    [
        GramMatrixStyle(),
        FeatureReconstruction(normalize=True),
        TotalVariation(beta=1.5, epsilon=1e-4),
    ],
    ids=lambda loss: type(loss).__name__,
)
def test_serialization_round_trip_and_same_value_under_xla(loss):
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is type(loss) and restored.get_config() == loss.get_config()
    y_true = RNG.random((2, 4, 4, 3)).astype("float32")
    y_pred = RNG.random((2, 4, 4, 3)).astype("float32")
    eager = float(loss(y_true, y_pred))
    compiled = compile_function(lambda a, b: loss(a, b), jit_compile=True)
    assert float(compiled(y_true, y_pred)) == pytest.approx(eager, rel=1e-5)
    assert float(restored(y_true, y_pred)) == pytest.approx(eager, rel=1e-6)


def test_a_model_compiled_with_the_loss_saves_and_loads(tmp_path):
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(3, 1)])
    model.compile("sgd", loss=FeatureReconstruction(normalize=True))
    x = RNG.random((4, 4, 4, 3)).astype("float32")
    model.fit(x, x, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.loss, FeatureReconstruction) and loaded.loss.normalize


@pytest.mark.parametrize(
    "thunk, argument",
    [
        (lambda: gram_matrix(np.ones((3, 3))), "features"),
        (
            lambda: gram_matrix_style_loss(np.ones((1, 2, 2, 4)), np.ones((1, 2, 2, 3))),
            "style_features",
        ),
        (
            lambda: feature_reconstruction_loss(np.ones((1, 2, 2, 4)), np.ones((1, 2, 3, 4))),
            "y_true",
        ),
        (lambda: feature_reconstruction_loss(np.ones((2,)), np.ones((2,))), "y_pred"),
        (lambda: total_variation_loss(np.ones((4, 4, 3))), "images"),
        (lambda: total_variation_loss(np.ones((1, 1, 4, 3))), "images"),
        (lambda: total_variation_loss(np.ones((1, 4, 4, 3)), beta=0.0), "beta"),
        (lambda: TotalVariation(beta=-1.0), "beta"),
    ],
)
def test_bad_input_names_the_argument(thunk, argument):
    with pytest.raises(ValueError, match=f"`{argument}`.*Received"):
        thunk()
