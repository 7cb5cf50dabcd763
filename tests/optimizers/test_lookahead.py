import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dlss.optimizers import Lookahead


@pytest.mark.parametrize("jit_compile", [False, True])
def test_slow_weights_follow_formula(jit_compile):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 3)).astype("float32")
    y = rng.normal(size=(7, 1)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, use_bias=False)])
    w0 = model.layers[0].kernel.numpy().astype(np.float64)
    lr, k, alpha = 0.1, 3, 0.5
    opt = Lookahead(keras.optimizers.SGD(lr), sync_period=k, slow_step_size=alpha)
    model.compile(optimizer=opt, loss="mse", jit_compile=jit_compile)
    model.fit(x, y, batch_size=7, epochs=7, verbose=0, shuffle=False)

    # Lookahead over SGD, Algorithm 1 of Zhang et al. 2019 (full batch: one step per epoch).
    fast, slow = w0.copy(), w0.copy()
    for t in range(1, 8):
        g = 2 * x.T.astype(np.float64) @ (x @ fast - y) / len(x)
        fast = fast - lr * g  # inner SGD step
        if t % k == 0:
            slow = slow + alpha * (fast - slow)
            fast = slow.copy()
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), fast, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(opt._slow[0].numpy(), slow, rtol=1e-4, atol=1e-6)
    assert int(opt.inner_optimizer.iterations.numpy()) == 7


def test_lookahead_under_mirrored_strategy():
    strategy = tf.distribute.MirroredStrategy()
    x = np.linspace(-1, 1, 32, dtype="float32")[:, None]
    y = 3 * x
    with strategy.scope():
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        model.compile(optimizer=Lookahead(keras.optimizers.Adam(0.1), sync_period=2), loss="mse")
    hist = model.fit(x, y, epochs=20, batch_size=8, verbose=0)
    assert hist.history["loss"][-1] < 0.1 * hist.history["loss"][0]


def test_lookahead_serialization(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=Lookahead(keras.optimizers.AdamW(0.01), sync_period=4), loss="mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    opt = loaded.optimizer
    assert isinstance(opt, Lookahead) and opt.sync_period == 4
    assert isinstance(opt.inner_optimizer, keras.optimizers.AdamW)
    assert opt.weight_decay == model.optimizer.inner_optimizer.weight_decay


@pytest.mark.parametrize(
    "kwargs, arg",
    [({"sync_period": 0}, "sync_period"), ({"slow_step_size": 0.0}, "slow_step_size")],
)
def test_lookahead_bad_hyperparameters(kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        Lookahead("sgd", **kwargs)
