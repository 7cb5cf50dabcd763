import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.callbacks import GradientCheck
from keras_dlss.debugging import GradientCheckError


@keras.saving.register_keras_serializable(package="keras_dlss_tests")
class _WrongScaleGrad(keras.layers.Layer):
    """y = x * s with the gradient w.r.t. s planted wrong (doubled)."""

    def build(self, input_shape):
        self.s = self.add_weight(shape=(input_shape[-1],), name="s", initializer="ones")

    def call(self, x):
        @ops.custom_gradient
        def scale(x, s):
            def grad(*args, upstream=None):
                if upstream is None:
                    (upstream,) = args
                return upstream * s, 2.0 * ops.sum(upstream * x, axis=0)

            return x * s, grad

        return scale(x, self.s * 1.0)


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3)).astype("float32")
    return x, (x @ np.ones((3, 1))).astype("float32")


def _model(*extra):
    model = keras.Sequential(
        [keras.Input((3,)), *extra, keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)]
    )
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize("fast_mode", [True, False])
def test_correct_model_trains(fast_mode):
    x, y = _data()
    callback = GradientCheck(x[:4], y[:4], fast_mode=fast_mode)
    history = _model().fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    assert len(history.history["loss"]) == 2
    assert callback.report.passed and len(callback.report.results) == 4


def test_wrong_gradient_stops_training_and_names_the_weight():
    x, y = _data()
    model = _model(_WrongScaleGrad(name="wrong"))
    with pytest.raises(GradientCheckError, match="wrong/s"):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[GradientCheck(x[:4], y[:4])])
    assert model.stop_training


def test_log_instead_of_raise_at_epoch_end(capsys):
    x, y = _data()
    model = _model(_WrongScaleGrad(name="wrong"))
    callback = GradientCheck(x[:4], y[:4], on="epoch_end", raise_on_failure=False)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[callback])
    assert len(history.history["loss"]) == 1  # stopped after the first epoch
    assert history.history["gradient_check_passed"] == [0.0]
    assert "training stopped" in capsys.readouterr().out


def test_bad_arguments():
    with pytest.raises(ValueError, match="Received: on='batch'"):
        GradientCheck(np.zeros((1, 3)), on="batch")
    with pytest.raises(ValueError, match="Received: every_n_epochs=0"):
        GradientCheck(np.zeros((1, 3)), every_n_epochs=0)
    with pytest.raises(ValueError, match="order"):
        GradientCheck(np.zeros((1, 3)), order=2)
