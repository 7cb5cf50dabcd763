"""TCAV: exact scores on constructed activations, and the test over random concepts."""

import keras
import numpy as np
import pytest

from keras_dlss import interpret


@pytest.fixture(scope="module")
def model():
    # h = x (identity layer), output = h0 - h1: the class grows along +e0, falls along +e1.
    net = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(2, use_bias=False, name="h"),
            keras.layers.Dense(1, use_bias=False),
        ]
    )
    net.set_weights([np.eye(2, dtype="float32"), np.array([[1.0], [-1.0]], "float32")])
    return net


def test_tcav_score_is_exactly_one_or_zero(model):
    x = np.random.default_rng(0).normal(size=(7, 2))
    assert interpret.tcav_score(model, x, 0, interpret.ConceptActivationVector([1, 0], "h")) == 1.0
    assert interpret.tcav_score(model, x, 0, interpret.ConceptActivationVector([0, 1], "h")) == 0.0
    sens = interpret.conceptual_sensitivity(
        model, x, 0, interpret.ConceptActivationVector([1, 1], "h")
    )
    np.testing.assert_allclose(sens, 0.0, atol=1e-6)


def test_cav_learns_the_planted_direction(model):
    rng = np.random.default_rng(1)
    concept = rng.normal(size=(20, 2)) + [4.0, 0.0]
    random = rng.normal(size=(20, 2))
    cav = interpret.ConceptActivationVector.fit(model, "h", concept, random)
    assert cav.accuracy > 0.95 and cav.vector[0] > 0.9
    restored = interpret.ConceptActivationVector.from_config(cav.get_config())
    np.testing.assert_allclose(restored.vector, cav.vector)


def test_statistical_test_tells_a_planted_concept_from_chance(model):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(10, 2))
    random_sets = [rng.normal(size=(15, 2)) for _ in range(12)]
    concepts = {"planted": rng.normal(size=(15, 2)) + [3.0, 0.0], "noise": rng.normal(size=(15, 2))}
    result = interpret.tcav(model, x, 0, "h", concepts, random_sets)
    assert result["planted"]["mean"] == 1.0 and result["planted"]["significant"]
    assert not result["noise"]["significant"]


def test_tcav_bad_inputs(model):
    with pytest.raises(ValueError, match="`random_sets`"):
        interpret.tcav(model, np.ones((2, 2)), 0, "h", {"c": np.ones((3, 2))}, [np.ones((3, 2))])
    with pytest.raises(ValueError, match=r"`layer_name`.*valid names"):
        interpret.ConceptActivationVector.fit(model, "nope", np.ones((3, 2)), np.zeros((3, 2)))
