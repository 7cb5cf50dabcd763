import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.callbacks import LearningRateLogger
from keras_dlss.optimizers import HypergradientAdam, HypergradientSGD
from keras_dlss.optimizers.hypergradient import adam_direction, hypergradient


def _run_on_quadratic(optimizer, curvature, steps=10):
    """Minimizes ½ c θ² for two variables; returns the learning rates seen."""
    theta = [
        keras.Variable(np.array([1.0, -2.0], "float32")),
        keras.Variable(np.ones(3, "float32")),
    ]
    rates = []
    for _ in range(steps):
        grads = [curvature * ops.convert_to_tensor(v) for v in theta]
        optimizer.apply(grads, theta)
        rates.append(float(ops.convert_to_numpy(optimizer.learning_rate)))
    return np.array(rates)


@pytest.mark.parametrize("cls", [HypergradientSGD, HypergradientAdam])
def test_learning_rate_grows_when_gradients_align(cls):
    # lr * curvature small: θ decays monotonically, consecutive gradients align.
    rates = _run_on_quadratic(cls(learning_rate=0.01, hypergradient_lr=1e-3), curvature=1.0)
    assert rates[0] == pytest.approx(0.01)  # no previous step yet
    assert np.all(np.diff(rates) > 0)


@pytest.mark.parametrize("cls", [HypergradientSGD, HypergradientAdam])
def test_learning_rate_shrinks_when_gradients_oscillate(cls):
    # SGD: 1 - lr * c = -0.9, θ flips sign each step; Adam's normalized step 1.5 > |θ|
    # after the first steps also overshoots and oscillates.
    lr = 1.9 if cls is HypergradientSGD else 1.5
    rates = _run_on_quadratic(cls(learning_rate=lr, hypergradient_lr=1e-3), curvature=1.0)
    assert rates[-1] < rates[0] <= lr
    if cls is HypergradientSGD:  # pure sign flips: every step shrinks α
        assert np.all(np.diff(rates) < 0)


def test_sgd_hd_matches_closed_form():
    # θ₀ = 1, c = 1, α₀ = 0.1, β = 0.5: g₀ = 1 → θ₁ = 0.9; h₁ = g₁·g₀ = 0.9 → α₁ = 0.55.
    opt = HypergradientSGD(learning_rate=0.1, hypergradient_lr=0.5)
    theta = keras.Variable(np.array([1.0], "float32"))
    for _ in range(2):
        opt.apply([ops.convert_to_tensor(theta)], [theta])
    assert float(ops.convert_to_numpy(opt.learning_rate)) == pytest.approx(0.55)
    assert float(ops.convert_to_numpy(theta)[0]) == pytest.approx(0.9 - 0.55 * 0.9)


def test_pure_functions():
    g = [ops.ones((2,)), None, ops.full((3,), 2.0)]
    u = [ops.full((2,), 3.0), ops.ones((4,)), ops.ones((3,))]
    assert float(hypergradient(g, u)) == pytest.approx(12.0)
    d = adam_direction(ops.ones(()), ops.ones(()), 0.9, 0.999, 0.0)
    assert float(d) == pytest.approx(np.sqrt(0.001) / 0.1)


@pytest.mark.parametrize("cls", [HypergradientSGD, HypergradientAdam])
def test_fit_with_xla_logs_learning_rate_and_saves(cls, tmp_path):
    x = np.random.default_rng(0).standard_normal((32, 4)).astype("float32")
    y = x @ np.arange(4, dtype="float32")[:, None]
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(
        optimizer=cls(learning_rate=0.01, hypergradient_lr=1e-4), loss="mse", jit_compile=True
    )
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[LearningRateLogger()])
    rates = history.history["learning_rate"]
    assert len(rates) == 3 and rates[-1] != pytest.approx(0.01)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.optimizer, cls)
    assert loaded.optimizer.hypergradient_lr == pytest.approx(1e-4)
    assert float(ops.convert_to_numpy(loaded.optimizer.learning_rate)) == pytest.approx(rates[-1])
    config = cls.from_config(model.optimizer.get_config()).get_config()
    assert config["learning_rate"] == pytest.approx(0.01)


def test_bad_arguments():
    with pytest.raises(ValueError, match="Received: hypergradient_lr=-1"):
        HypergradientSGD(hypergradient_lr=-1)
    with pytest.raises(ValueError, match="must be a float"):
        HypergradientAdam(learning_rate=keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9))
    with pytest.raises(ValueError, match="gradient_accumulation_steps=2"):
        HypergradientSGD(gradient_accumulation_steps=2)
