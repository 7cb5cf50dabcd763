import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.training import lbfgs_fit, newton_cg_fit


def _regression(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ rng.normal(size=(4, 1)) + 0.3 + 0.1 * rng.normal(size=(64, 1))).astype("float32")
    design = np.hstack([x, np.ones((64, 1))]).astype(np.float64)
    optimum, *_ = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    return model, x, y, optimum


def _weights(model):
    kernel, bias = model.layers[0].get_weights()
    return np.vstack([kernel, bias[:, None]])


@pytest.mark.parametrize("implementation", ["native", "tfp"])
def test_lbfgs_reaches_least_squares_optimum(implementation):
    model, x, y, optimum = _regression()
    history = lbfgs_fit(model, x, y, loss="mse", max_iterations=100, implementation=implementation)
    np.testing.assert_allclose(_weights(model), optimum, atol=1e-3)
    assert history["loss"][-1] <= history["loss"][0]


def test_newton_cg_reaches_optimum_with_subsampled_hessian():
    model, x, y, optimum = _regression(1)
    history = newton_cg_fit(model, x, y, loss="mse", max_iterations=10, hessian_batch_size=32)
    np.testing.assert_allclose(_weights(model), optimum, atol=1e-3)
    assert not any(history["negative_curvature"])


class SaddleLayer(keras.layers.Layer):
    """Outputs f(w) = w0^2 + (w1^2 - 1)^2 / 4: a saddle at 0, minima at w1 = +-1."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(2,), initializer="zeros", name="w")

    def call(self, x):
        f = self.w[0] ** 2 + (self.w[1] ** 2 - 1.0) ** 2 / 4.0
        return ops.zeros_like(x[:, :1]) + f


def test_newton_cg_escapes_saddle_with_negative_curvature():
    model = keras.Sequential([keras.Input((1,)), SaddleLayer()])
    model.layers[0].w.assign([1.0, 1e-3])
    x = np.zeros((4, 1), "float32")

    def identity_loss(y_true, y_pred):
        return y_pred[:, 0]

    history = newton_cg_fit(model, x, x, loss=identity_loss, max_iterations=30)
    w = model.layers[0].w.numpy()
    assert history["negative_curvature"][0]
    np.testing.assert_allclose(np.abs(w), [0.0, 1.0], atol=1e-3)
    # Pure Newton from the same point lands on the saddle (0, 0) in one step:
    # the Hessian there is diag(2, -1), so the escape is due to negative curvature.


@pytest.mark.parametrize(
    "fn, kwargs, arg",
    [
        (lbfgs_fit, {"max_iterations": 0}, "max_iterations"),
        (lbfgs_fit, {"implementation": "scipy"}, "implementation"),
        (newton_cg_fit, {"damping": -1.0}, "damping"),
        (newton_cg_fit, {"hessian_batch_size": 0}, "hessian_batch_size"),
    ],
)
def test_bad_arguments(fn, kwargs, arg):
    model, x, y, _ = _regression()
    with pytest.raises(ValueError, match=f"`{arg}`"):
        fn(model, x, y, loss="mse", **kwargs)
