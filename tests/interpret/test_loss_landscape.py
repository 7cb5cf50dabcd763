import keras
import numpy as np
import pytest

from keras_dlss import interpret


@pytest.fixture(scope="module")
def linear():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    model.set_weights([np.array([[1.0], [-1.0]], "float32")])
    return model


def test_interpolation_is_the_closed_form_quadratic(linear):
    x, y = np.eye(2, dtype="float32"), np.zeros((2, 1), "float32")
    w0, w1 = np.array([1.0, -1.0]), np.array([3.0, 1.0])
    out = interpret.loss_landscape(
        linear, x, y, loss="mse", target_weights=[w1.reshape(2, 1)], steps=5
    )
    expected = [np.mean((w0 + a * (w1 - w0)) ** 2) for a in out["alphas"]]
    np.testing.assert_allclose(out["losses"], expected, rtol=1e-5)
    np.testing.assert_array_equal(linear.get_weights()[0].ravel(), w0)  # restored


def test_plane_is_centred_on_the_weights_and_plots(linear, tmp_path):
    x, y = np.eye(2, dtype="float32"), np.zeros((2, 1), "float32")
    path = str(tmp_path / "surface.png")
    out = interpret.loss_landscape(linear, x, y, loss="mse", dimensions=2, steps=5, path=path)
    assert out["losses"].shape == (5, 5)
    assert out["losses"][2, 2] == pytest.approx(1.0)  # alpha = beta = 0: the current loss
    with open(path, "rb") as f:
        assert f.read(4) == b"\x89PNG"


def test_filter_normalization_matches_filter_norms():
    from keras_dlss.interpret.loss_landscape import _filter_normalized

    w = [np.random.default_rng(0).normal(size=(3, 3, 2, 4)), np.ones(4)]
    d = _filter_normalized(w, np.random.default_rng(1))
    np.testing.assert_allclose(
        np.sqrt((d[0] ** 2).sum((0, 1, 2))), np.sqrt((w[0] ** 2).sum((0, 1, 2)))
    )
    assert not d[1].any()  # biases are not perturbed


def test_bad_arguments(linear):
    with pytest.raises(ValueError, match="`dimensions`"):
        interpret.loss_landscape(linear, np.ones((1, 2)), np.ones((1, 1)), loss="mse", dimensions=3)
    with pytest.raises(ValueError, match="`target_weights`"):
        interpret.loss_landscape(
            linear, np.ones((1, 2)), np.ones((1, 1)), loss="mse", target_weights=[], dimensions=1
        )
