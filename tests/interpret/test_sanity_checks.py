import keras
import numpy as np
import pytest
from scipy.stats import spearmanr

from keras_dlss.interpret import model_randomization_check
from keras_dlss.interpret.sanity_checks import spearman_per_example

X = np.random.default_rng(0).normal(size=(8, 12)).astype("float32")


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    m = keras.Sequential(
        [
            keras.Input((12,)),
            keras.layers.Dense(16, activation="tanh", name="hidden"),
            keras.layers.Dense(3, name="logits"),
        ]
    )
    return m


def test_spearman_matches_scipy():
    a, b = np.random.default_rng(1).normal(size=(2, 5, 30))
    expected = [spearmanr(a[i], b[i])[0] for i in range(5)]
    np.testing.assert_allclose(spearman_per_example(a, b), expected, atol=1e-12)


def test_gradient_passes_and_model_is_untouched(model):
    before = [w.copy() for w in model.get_weights()]
    report = model_randomization_check(model, "gradient", X, target=0)
    assert report["layers"] == ["logits", "hidden"]
    assert report["passed"] and report["spearman_abs"][-1] < 0.5
    for w, v in zip(before, model.get_weights()):
        np.testing.assert_array_equal(w, v)


def test_a_method_blind_to_the_weights_fails(model):
    report = model_randomization_check(model, lambda m, x, t: x, X, target=0)
    np.testing.assert_allclose(report["spearman_abs"], 1.0)
    assert not report["passed"]


def test_bad_arguments(model):
    with pytest.raises(ValueError, match="`method`.*Received"):
        model_randomization_check(model, "guided_backprop", X, 0)
    with pytest.raises(ValueError, match="`threshold`.*Received"):
        model_randomization_check(model, "gradient", X, 0, threshold=2.0)
    with pytest.raises(ValueError, match="`target`.*Received"):
        model_randomization_check(model, "gradient", X, 7)
