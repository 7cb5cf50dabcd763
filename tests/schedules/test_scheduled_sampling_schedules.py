import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dlss.schedules import ExponentialDecay, InverseSigmoidDecay, LinearDecay

STEPS = np.array([0, 1, 5, 50, 200, 5000])


@pytest.mark.parametrize(
    "schedule,formula",
    [
        (LinearDecay(1.0, 0.01, 0.1), lambda i: np.maximum(0.1, 1.0 - 0.01 * i)),
        (LinearDecay(0.8, 0.002), lambda i: np.maximum(0.0, 0.8 - 0.002 * i)),
        (ExponentialDecay(0.99), lambda i: 0.99**i),
        (InverseSigmoidDecay(20.0), lambda i: 20.0 / (20.0 + np.exp(i / 20.0))),
    ],
)
def test_matches_formula_and_serializes(schedule, formula):
    values = [float(schedule(i)) for i in STEPS]
    np.testing.assert_allclose(values, formula(STEPS.astype("float64")), rtol=1e-5, atol=1e-7)
    assert all(0.0 <= v <= 1.0 for v in values)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert type(clone) is type(schedule) and clone.get_config() == schedule.get_config()
    compiled = tf.function(lambda i: schedule(i), jit_compile=True)
    np.testing.assert_allclose(compiled(tf.constant(50)), values[3], rtol=1e-5)


def test_inverse_sigmoid_does_not_overflow():
    assert float(InverseSigmoidDecay(1.0)(10_000)) == 0.0


@pytest.mark.parametrize(
    "factory,match",
    [
        (lambda: LinearDecay(k=1.5), "k"),
        (lambda: LinearDecay(c=-1.0), "c"),
        (lambda: LinearDecay(minimum=2.0), "minimum"),
        (lambda: ExponentialDecay(0.0), "k"),
        (lambda: InverseSigmoidDecay(0.5), "k"),
    ],
)
def test_bad_arguments(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()
