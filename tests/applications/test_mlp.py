import keras
import numpy as np
import pytest

from keras_dlss.applications import MLPClassifier, get_task, make_optimizer
from keras_dlss.applications.mlp import load_features

X = np.random.default_rng(0).normal(size=(16, 6)).astype("float32")


@pytest.mark.parametrize("normalization", ["none", "batch", "group", "layer"])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_architecture_knobs_build_the_layers_asked_for(activation, normalization):
    model = MLPClassifier(6, 3, depth=2, width=8, activation=activation, normalization=normalization, dropout=0.2)
    kinds = {type(layer).__name__ for layer in model.layers}
    expected_norm = {"batch": "BatchNormalization", "group": "GroupNormalization", "layer": "LayerNormalization"}
    if normalization != "none":
        assert expected_norm[normalization] in kinds
    assert "Dropout" in kinds
    assert sum(isinstance(layer, keras.layers.Dense) for layer in model.layers) == 3
    probs = model.predict(X, verbose=0)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    acts = [layer for layer in model.layers if isinstance(layer, keras.layers.Activation)]
    assert all(a.activation.__name__ == activation for a in acts)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"activation": "gelu"}, "activation"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"normalization": "instance"}, "normalization"),
        ({"initializer": "not_an_initializer"}, "initializer"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"depth": -1}, "depth"),
    ],
)
def test_bad_hyperparameters_name_the_argument_and_value(kwargs, argument):
    value = next(iter(kwargs.values()))
    with pytest.raises(ValueError, match=rf"`{argument}`.*Received: {argument}={value!r}".replace("(", r"\(")):
        MLPClassifier(6, 3, **kwargs)


@pytest.mark.parametrize(
    "name, cls, momentum, nesterov",
    [("sgd", "SGD", 0.0, False), ("momentum", "SGD", 0.9, False), ("nesterov", "SGD", 0.9, True),
     ("adagrad", "Adagrad", None, None), ("rmsprop", "RMSprop", None, None), ("adam", "Adam", None, None)],
)
def test_optimizer_presets(name, cls, momentum, nesterov):
    opt = make_optimizer(name, 0.1, decay="exponential", decay_steps=10, decay_rate=0.5)
    assert type(opt).__name__ == cls
    if momentum is not None:
        assert opt.momentum == momentum and opt.nesterov == nesterov
    schedule = keras.optimizers.schedules.deserialize(opt.get_config()["learning_rate"])
    np.testing.assert_allclose(float(schedule(10)), 0.1 * 0.5, rtol=1e-6)  # one decay period


def test_save_load_round_trip_keeps_outputs_and_compile(tmp_path):
    model = MLPClassifier(6, 3, depth=1, width=8, normalization="batch", optimizer="nesterov")
    model.compile()
    model.fit(X, np.arange(16) % 3, epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(model.predict(X, verbose=0), loaded.predict(X, verbose=0), atol=1e-6)
    assert loaded.get_config() == model.get_config()
    assert type(loaded.optimizer).__name__ == "SGD" and loaded.optimizer.nesterov
    assert loaded.jit_compile is True


def test_digits_training_learns():
    task = get_task("mlp")
    data = task.load_data(seed=0)
    assert data.info["input_dim"] == 64 and len(data.info["classes"]) == 10
    assert len(data.train[0]) + len(data.validation[0]) + len(data.test[0]) == 1797
    model = task.build_model(data, jit_compile=True)
    model.fit(*data.train, epochs=8, batch_size=32, verbose=0)
    assert task.evaluate(model, data)["test_accuracy"] > 0.9


def test_user_data_files(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(40, 5)), rng.integers(0, 2, 40)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    np.savetxt(tmp_path / "d.csv", np.c_[x, y], delimiter=",")
    for name in ("d.npz", "d.csv"):
        data = load_features(str(tmp_path / name))
        assert data.info["input_dim"] == 5 and data.info["classes"] == [0, 1]
    np.savez(tmp_path / "bad.npz", a=x)
    with pytest.raises(ValueError, match="'x' and 'y'"):
        load_features(str(tmp_path / "bad.npz"))
    with pytest.raises(ValueError, match=r"\.npz or \.csv"):
        load_features(str(tmp_path / "d.txt"))
