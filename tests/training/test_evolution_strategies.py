import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_dlss.training import EvolutionStrategiesModel, centered_ranks, es_gradient


def _smooth(params):
    (theta,) = params
    return ops.sum(ops.sin(theta)) + 0.5 * ops.sum(ops.square(theta))


@tf.function(jit_compile=True)
def _es_xla(theta, noise, sigma, shaping):
    return es_gradient(_smooth, [theta], [noise], sigma=sigma, fitness_shaping=shaping)


def test_es_gradient_converges_to_true_gradient():
    theta = np.array([0.3, -1.2, 0.7, 2.0, -0.4], "float32")
    true = np.cos(theta) + theta
    rng = np.random.default_rng(0)
    errors = []
    for pairs in (8, 128, 8192):
        noise = rng.standard_normal((pairs, 5)).astype("float32")
        grads, losses = _es_xla(theta, noise, 0.01, False)
        assert losses.shape == (2 * pairs,)
        errors.append(np.linalg.norm(np.asarray(grads[0]) - true) / np.linalg.norm(true))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.05


def test_fitness_shaping_keeps_direction():
    theta = np.array([0.3, -1.2, 0.7], "float32")
    true = np.cos(theta) + theta
    noise = np.random.default_rng(1).standard_normal((4096, 3)).astype("float32")
    grads, _ = _es_xla(theta, noise, 0.05, True)
    g = np.asarray(grads[0])
    assert g @ true / (np.linalg.norm(g) * np.linalg.norm(true)) > 0.98


def test_centered_ranks():
    np.testing.assert_allclose(
        centered_ranks(ops.convert_to_tensor([3.0, -1.0, 10.0])), [0.0, -0.5, 0.5]
    )


@pytest.mark.parametrize("jit_compile", [False, True])
def test_es_trains_non_differentiable_loss(jit_compile):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 2)).astype("float32")
    y = (x[:, :1] - x[:, 1:] > 0).astype("float32")

    def zero_one_loss(y_true, y_pred):  # piecewise constant: its gradient is 0 almost everywhere
        return ops.mean(
            ops.cast(ops.not_equal(y_true, ops.cast(y_pred > 0, "float32")), "float32"), axis=-1
        )

    inner = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model = EvolutionStrategiesModel(inner, population_size=40, sigma=0.3, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss=zero_one_loss, jit_compile=jit_compile)
    before = float(model.evaluate(x, y, verbose=0))
    model.fit(x, y, epochs=15, batch_size=128, verbose=0)
    after = float(model.evaluate(x, y, verbose=0))
    assert after < min(0.1, before)


def test_es_model_serialization(tmp_path):
    inner = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model = EvolutionStrategiesModel(inner, population_size=6, sigma=0.2, seed=3)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0)
    model.save(tmp_path / "es.keras")
    loaded = keras.models.load_model(tmp_path / "es.keras")
    assert loaded.population_size == 6 and loaded.sigma == 0.2
    np.testing.assert_allclose(
        loaded.predict(np.ones((2, 2)), verbose=0), model.predict(np.ones((2, 2)), verbose=0)
    )


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        ({"population_size": 0}, "population_size"),
        ({"population_size": 3}, "population_size"),
        ({"sigma": 0.0}, "sigma"),
    ],
)
def test_es_bad_hyperparameters(kwargs, arg):
    inner = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=f"`{arg}`"):
        EvolutionStrategiesModel(inner, **kwargs)
