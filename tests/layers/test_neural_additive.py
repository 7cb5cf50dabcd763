import keras
import numpy as np
import pytest

from keras_dlss.layers import NeuralAdditiveModel
from keras_dlss.testing import run_layer_test


def _x(shape=(4, 3), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def test_conformance():
    report = run_layer_test(
        NeuralAdditiveModel,
        {"units": 2, "hidden_units": (4, 3), "activation": "tanh"},
        _x(),
        expected_output_shape=(4, 2),
        atol=1e-4,
        rtol=1e-4,
    )
    for check in ("serialization", "xla_parity", "gradients", "fit_xla"):
        assert report.results[check] == "passed", report


def _numpy_shape_function(layer, i, xi):
    """Feature i's MLP, run on its own with NumPy."""
    h = xi[:, None].astype("float64")
    kernels = [keras.ops.convert_to_numpy(k)[i] for k in layer.kernels]
    biases = [keras.ops.convert_to_numpy(b)[i] for b in layer.biases]
    for depth, k in enumerate(kernels):
        h = h @ k
        if depth < len(biases):
            h = np.maximum(h + biases[depth], 0.0)
    return h


def test_additive_and_matches_per_feature_numpy_mlps():
    layer = NeuralAdditiveModel(units=2, hidden_units=(5, 4), seed=1)
    x = _x((6, 3))
    y = keras.ops.convert_to_numpy(layer(x))
    bias = keras.ops.convert_to_numpy(layer.bias)
    terms = [_numpy_shape_function(layer, i, x[:, i]) for i in range(3)]
    np.testing.assert_allclose(y, sum(terms) + bias, atol=1e-5)
    # Changing one feature changes only that feature's contribution.
    moved = x.copy()
    moved[:, 1] += 1.0
    a = keras.ops.convert_to_numpy(layer.feature_contributions(x))
    b = keras.ops.convert_to_numpy(layer.feature_contributions(moved))
    np.testing.assert_array_equal(a[:, [0, 2]], b[:, [0, 2]])
    assert not np.allclose(a[:, 1], b[:, 1])


def test_feature_dropout_drops_whole_features_only_in_training():
    layer = NeuralAdditiveModel(units=1, hidden_units=(4,), feature_dropout=0.5, seed=0)
    x = _x((64, 3))
    full = keras.ops.convert_to_numpy(layer.feature_contributions(x))
    dropped = keras.ops.convert_to_numpy(layer.feature_contributions(x, training=True))
    zero = np.all(dropped == 0.0, axis=-1)
    kept = ~zero
    assert 0.3 < zero.mean() < 0.7
    np.testing.assert_allclose(dropped[kept], 2.0 * full[kept], rtol=1e-5)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(x)), keras.ops.convert_to_numpy(layer(x))
    )


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"units": 0}, "units"),
        ({"hidden_units": 8}, "hidden_units"),
        ({"hidden_units": (4, 0)}, "hidden_units"),
        ({"feature_dropout": 1.0}, "feature_dropout"),
    ],
)
def test_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`.*Received"):
        NeuralAdditiveModel(**kwargs)
