import keras
import numpy as np
import pytest

from keras_dlss.debugging import (
    OverfitReport,
    diagnose_loss_curve,
    layer_gradient_norms,
    overfit_batch,
    saturation_fractions,
)


def _data(n=8):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 4)).astype("float32")
    return x, rng.standard_normal((n, 1)).astype("float32")


def _mlp(optimizer="adam", activation="tanh", **dense_kwargs):
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(32, activation=activation, name="hidden", **dense_kwargs),
            keras.layers.Dense(1, name="out"),
        ]
    )
    model.compile(optimizer=optimizer, loss="mse")
    return model


def test_healthy_model_overfits_and_is_left_untouched():
    x, y = _data()
    model = _mlp(keras.optimizers.Adam(0.05))
    before = [w.copy() for w in model.get_weights()]
    report = overfit_batch(model, x, y, steps=300)
    assert isinstance(report, OverfitReport)
    assert report.reached_target and report.diagnosis == "converged"
    assert report.best_loss <= 0.01 * report.initial_loss
    assert set(report.gradient_norms) == {"hidden", "out"}
    assert "reached the target" in str(report)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_saturated_tanh_is_reported_with_a_hint():
    x, y = _data()
    model = _mlp(kernel_initializer=keras.initializers.RandomNormal(stddev=20.0, seed=0))
    report = overfit_batch(model, x, y, steps=5)
    kind, fraction = report.saturation["hidden"]
    assert kind == "tanh" and fraction > 0.8
    assert any("saturated" in h and "`hidden`" in h for h in report.hints)


def test_dead_relus_are_reported():
    x, y = _data()
    model = _mlp(activation="relu", bias_initializer=keras.initializers.Constant(-100.0))
    report = overfit_batch(model, x, y, steps=5)
    assert report.saturation["hidden"] == ("relu", 1.0)
    assert report.gradient_norms["hidden"] == 0.0
    assert any("dead" in h for h in report.hints)
    assert not report.reached_target


def test_too_high_learning_rate_is_diagnosed():
    x, y = _data()
    report = overfit_batch(_mlp(keras.optimizers.SGD(5.0)), x, y, steps=50)
    assert report.diagnosis in ("diverged", "oscillating")
    assert any("learning rate" in h for h in report.hints)


def test_diagnose_loss_curve():
    assert diagnose_loss_curve([1.0, 0.5, 0.3, 0.2, 0.1])[0] == "decreasing"
    assert diagnose_loss_curve([1.0, 2.0, 30.0, float("nan")])[0] == "diverged"
    label, hint = diagnose_loss_curve([1.0, 0.6, 0.9, 0.5, 0.95, 0.55, 0.9, 0.5])
    assert label == "oscillating" and "too high" in hint
    assert diagnose_loss_curve([1.0, 0.99, 0.99, 0.99, 0.99, 0.99])[0] == "plateau"


def test_probes_directly():
    x, y = _data()
    model = _mlp()
    assert set(saturation_fractions(model, x)) == {"hidden"}
    loss, norms = layer_gradient_norms(model, x, y)
    assert loss > 0 and all(v > 0 for v in norms.values())


def test_bad_arguments():
    x, y = _data()
    uncompiled = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="compiled"):
        overfit_batch(uncompiled, x, y)
    with pytest.raises(ValueError, match="Received: steps=0"):
        overfit_batch(_mlp(), x, y, steps=0)
    with pytest.raises(ValueError, match="Received: target_loss=-1"):
        overfit_batch(_mlp(), x, y, target_loss=-1)


@keras.saving.register_keras_serializable(package="keras_dlss_tests")
class SubclassedNet(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(16, activation="tanh")
        self.out = keras.layers.Dense(1)

    def call(self, x):
        return self.out(self.hidden(x))


def test_subclassed_model_is_copied_through_its_config():
    x, y = _data()
    model = SubclassedNet()
    model(x)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    report = overfit_batch(model, x, y, steps=20)
    assert report.saturation == {}  # layer outputs cannot be probed
    assert report.best_loss < report.initial_loss
