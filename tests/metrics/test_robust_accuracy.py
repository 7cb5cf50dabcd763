import keras
import numpy as np
import pytest

from keras_dlss.metrics import RobustAccuracy


@pytest.fixture(scope="module")
def data():
    keras.utils.set_random_seed(0)
    init = keras.initializers.RandomNormal(stddev=3.0, seed=0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, kernel_initializer=init)])
    x = np.random.default_rng(0).uniform(size=(24, 5)).astype("float32")
    y = np.asarray(model(x)).argmax(1)  # every clean prediction is right
    return model, x, y


def test_zero_radius_is_clean_accuracy_and_attacks_only_lower_it(data):
    model, x, y = data
    clean = RobustAccuracy(model, eps=0.0, attack="fgsm")
    clean.update_state(x, y)
    assert float(clean.result()) == 1.0
    previous = 1.0
    for eps in (0.05, 0.3):
        metric = RobustAccuracy(model, eps=eps, attack="pgd", steps=5, random_start=False)
        metric.update_state(x[:12], y[:12])
        metric.update_state(x[12:], y[12:])  # accumulates over batches
        value = float(metric.result())
        assert value <= previous
        previous = value
    assert previous < 1.0
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_config_and_bad_arguments(data):
    model = data[0]
    config = RobustAccuracy(model, eps=0.1, attack="pgd", steps=3).get_config()
    assert config == {"name": "robust_accuracy", "eps": 0.1, "attack": "pgd", "steps": 3}
    with pytest.raises(ValueError, match="`eps`.*Received"):
        RobustAccuracy(model, eps=-0.1)
    with pytest.raises(ValueError, match="`attack`"):
        RobustAccuracy(model, eps=0.1, attack="cw")
