import keras
import numpy as np
import pytest

from keras_dlss.optimizers import SAM, SAMModel, sam_perturbation


def _quadratic_model(w0):
    # loss(w) = mean((x w - y)^2) with x = I: a quadratic with a closed-form gradient.
    inner = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    inner.layers[0].kernel.assign(np.array(w0, "float32").reshape(2, 1))
    return inner


@pytest.mark.parametrize("adaptive", [False, True])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_sam_step_matches_closed_form(adaptive, jit_compile):
    x = np.eye(2, dtype="float32")
    y = np.array([[1.0], [-2.0]], "float32")
    w0 = np.array([0.5, 0.3])
    rho, lr = 0.1, 0.2
    model = SAMModel(_quadratic_model(w0))
    model.compile(
        optimizer=SAM(keras.optimizers.SGD(lr), rho=rho, adaptive=adaptive),
        loss="mse",
        jit_compile=jit_compile,
    )
    model.fit(x, y, batch_size=2, epochs=1, verbose=0, shuffle=False)

    # Closed form: L(w) = mean((w - t)^2) over 2 coordinates, grad = (w - t).
    t = y[:, 0].astype(np.float64)
    g = w0 - t
    scale = np.abs(w0) if adaptive else np.ones(2)
    e = rho * scale**2 * g / np.linalg.norm(scale * g)
    g_adv = (w0 + e) - t
    expected = w0 - lr * g_adv
    got = model.inner_model.layers[0].kernel.numpy()[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_sam_perturbation_norm_is_rho():
    grads = [np.array([3.0, 4.0], "float32"), np.array([[0.0]], "float32")]
    e = sam_perturbation(grads, [np.zeros(2), np.zeros((1, 1))], rho=0.5)
    norm = np.sqrt(sum(float(np.sum(np.square(t))) for t in e))
    np.testing.assert_allclose(norm, 0.5, rtol=1e-6)


def test_sam_needs_sam_model():
    model = _quadratic_model([0.0, 0.0])
    model.compile(optimizer=SAM("sgd"), loss="mse")
    with pytest.raises(RuntimeError, match="SAMModel"):
        model.fit(np.eye(2), np.ones((2, 1)), verbose=0)


def test_sam_model_fit_reduces_loss_and_saves(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-1.0], [0.5], [2.0]])).astype("float32")
    inner = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, "tanh"), keras.layers.Dense(1)]
    )
    model = SAMModel(inner)
    model.compile(optimizer=SAM(keras.optimizers.Adam(0.02), rho=0.02), loss="mse", metrics=["mae"])
    hist = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert "mae" in hist.history and hist.history["mae"][-1] > 0
    path = tmp_path / "sam.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.optimizer, SAM) and loaded.optimizer.rho == 0.02
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_sam_config_round_trip():
    opt = SAM(keras.optimizers.Adam(0.01), rho=0.1, adaptive=True)
    again = SAM.from_config(opt.get_config())
    assert again.rho == 0.1 and again.adaptive
    assert isinstance(again.base_optimizer, keras.optimizers.Adam)


@pytest.mark.parametrize("kwargs, arg", [({"rho": -0.1}, "rho"), ({"epsilon": 0.0}, "epsilon")])
def test_sam_bad_hyperparameters(kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        SAM("sgd", **kwargs)
