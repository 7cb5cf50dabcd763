import keras
import numpy as np
import pytest

from keras_dlss.metrics import noise_stability


def test_identity_head_passes_noise_through_exactly():
    # After layer "h" the network is the identity: the output changes by exactly noise_scale.
    eye = keras.layers.Dense(3, use_bias=False, name="out")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, name="h"), eye])
    eye.set_weights([np.eye(3, dtype="float32")])
    x = np.random.default_rng(0).normal(size=(8, 3))
    result = noise_stability(model, x, ["h"], noise_scale=0.3, num_samples=3)
    assert result["h"] == pytest.approx(0.3, rel=1e-5)


def test_a_contracting_head_attenuates_noise():
    half = keras.layers.Dense(3, use_bias=False, name="out")
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(3, name="h"),
            keras.layers.Dense(3, activation="tanh", name="g"),
            half,
        ]
    )
    half.set_weights([0.5 * np.eye(3, dtype="float32")])
    result = noise_stability(model, np.random.default_rng(1).normal(size=(16, 3)))
    assert set(result) == {"h", "g"}
    assert result["g"] == pytest.approx(0.1, rel=1e-5)  # linear head: scale is preserved
    assert all(np.isfinite(v) and v > 0 for v in result.values())


def test_bad_arguments():
    model = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(2, name="h"), keras.layers.Dense(1)]
    )
    with pytest.raises(ValueError, match="`noise_scale`.*Received"):
        noise_stability(model, np.ones((2, 2)), noise_scale=-1.0)
    with pytest.raises(ValueError, match=r"`layer_name`.*valid names"):
        noise_stability(model, np.ones((2, 2)), ["nope"])
