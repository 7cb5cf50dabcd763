import keras
import numpy as np
import pytest

from keras_dlss.optimizers import KFAC, KFACModel, kfac_factors, kfac_precondition


def test_single_linear_layer_matches_exact_natural_gradient():
    # Residuals of equal size make the per-example Fisher exactly Kronecker
    # (A (x) G with scalar G), so K-FAC must reproduce the exact natural step.
    rng = np.random.default_rng(0)
    n, d = 8, 3
    x = rng.normal(size=(n, d)).astype("float32")
    w0 = rng.normal(size=(d, 1)).astype("float32")
    c = 0.7
    signs = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)[:, None]
    t = (x @ w0 - c * signs).astype("float32")
    lr, damping = 0.5, 1e-8

    inner = keras.Sequential([keras.Input((d,)), keras.layers.Dense(1, use_bias=False)])
    inner.layers[0].kernel.assign(w0)
    model = KFACModel(inner)
    model.compile(
        optimizer=KFAC(lr, damping=damping, momentum=0.0, kl_clip=None),
        loss="mse",
        jit_compile=True,
    )
    model.fit(x, t, batch_size=n, epochs=1, verbose=0, shuffle=False)

    x64, r = x.astype(np.float64), (x @ w0 - t).astype(np.float64)
    per_example = 2 * x64 * r  # d loss_i / d w, loss_i = (x_i w - t_i)^2
    grad = per_example.mean(0)
    fisher = per_example.T @ per_example / n
    expected = w0[:, 0] - lr * np.linalg.solve(fisher + damping * np.eye(d), grad)
    np.testing.assert_allclose(inner.layers[0].kernel.numpy()[:, 0], expected, rtol=2e-3)


def test_kfac_factors_and_preconditioner():
    a = np.arange(6, dtype="float32").reshape(3, 2)
    ds = np.array([[1.0], [2.0], [-1.0]], "float32")
    A, G = kfac_factors(a, ds)
    np.testing.assert_allclose(A, a.T @ a / 3)
    np.testing.assert_allclose(G, ds.T @ ds * 3)
    grad = np.ones((2, 1), "float32")
    A_inv, G_inv = np.linalg.inv(np.eye(2) * 2), np.array([[0.5]])
    np.testing.assert_allclose(kfac_precondition(grad, A_inv, G_inv), grad * 0.25)
    np.testing.assert_allclose(kfac_precondition(np.ones(1, "float32"), None, G_inv), [0.5])


@pytest.mark.parametrize("fisher", ["empirical", "gaussian"])
def test_kfac_trains_autoencoder_and_saves(tmp_path, fisher):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(128, 2)) @ rng.normal(size=(2, 6))).astype("float32")
    inner = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(4, "tanh"),
            keras.layers.Dropout(0.0),
            keras.layers.Dense(6),
        ]
    )
    model = KFACModel(inner, fisher=fisher, seed=0)
    model.compile(
        optimizer=KFAC(0.05, damping=1e-2, inverse_update_freq=5), loss="mse", jit_compile=True
    )
    hist = model.fit(x, x, epochs=8, batch_size=32, verbose=0)
    assert hist.history["loss"][-1] < 0.3 * hist.history["loss"][0]
    model.save(tmp_path / "kfac.keras")
    loaded = keras.models.load_model(tmp_path / "kfac.keras")
    assert isinstance(loaded.optimizer, KFAC) and loaded.optimizer.inverse_update_freq == 5
    assert loaded.fisher == fisher
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    loaded.fit(x, x, epochs=1, batch_size=32, verbose=0)  # continues training after reload


def test_kfac_categorical_fisher_classifies():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")
    inner = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, "tanh"), keras.layers.Dense(2, "softmax")]
    )
    model = KFACModel(inner, fisher="categorical", seed=0)
    model.compile(
        optimizer=KFAC(0.2, damping=1e-2),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    hist = model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    assert hist.history["accuracy"][-1] > 0.9


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        ({"damping": 0.0}, "damping"),
        ({"momentum": 1.0}, "momentum"),
        ({"stat_decay": -0.1}, "stat_decay"),
        ({"inverse_update_freq": 0}, "inverse_update_freq"),
        ({"kl_clip": 0.0}, "kl_clip"),
    ],
)
def test_kfac_bad_hyperparameters(kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        KFAC(**kwargs)


def test_kfac_model_needs_sequential():
    inp = keras.Input((2,))
    with pytest.raises(ValueError, match="`model`"):
        KFACModel(keras.Model(inp, keras.layers.Dense(1)(inp)))
    with pytest.raises(ValueError, match="`fisher`"):
        KFACModel(keras.Sequential([inp, keras.layers.Dense(1)]), fisher="exact")
