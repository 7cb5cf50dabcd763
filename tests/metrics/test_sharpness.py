import keras
import numpy as np
import pytest

from keras_dlss.metrics import sharpness


def test_sharpness_of_quadratic_matches_box_maximum():
    # loss(w) = mean((w_i - 0)^2) over identity inputs: the max over the box is at the corners.
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    w0 = np.array([[0.5], [-1.0]], "float32")
    model.layers[0].kernel.assign(w0)
    model.compile(loss="mse")
    x, y = np.eye(2, dtype="float32"), np.zeros((2, 1), "float32")
    eps = 1e-2
    f0 = float(np.mean(w0**2))
    b = eps * (np.abs(w0) + 1)
    fmax = float(np.mean((np.abs(w0) + b) ** 2))
    s = sharpness(model, x, y, epsilon=eps, steps=20)
    np.testing.assert_allclose(s, 100 * (fmax - f0) / (1 + f0), rtol=1e-3)
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), w0)  # restored


def test_sharpness_bad_epsilon():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="`epsilon`"):
        sharpness(model, np.ones((1, 2)), np.ones((1, 1)), epsilon=0.0, loss="mse")
