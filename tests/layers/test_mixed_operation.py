import keras
import numpy as np
import pytest

from keras_dlss.applications.darts_operations import Zero
from keras_dlss.layers import MixedOperation
from keras_dlss.testing import run_layer_test


def _x(shape=(2, 5, 5, 3), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _candidates():
    # Serialized configs, so every layer the harness creates gets fresh candidates.
    layers = [
        keras.layers.Conv2D(3, 3, padding="same"),
        keras.layers.AveragePooling2D(3, 1, padding="same"),
        keras.layers.Identity(),
        Zero(1),
    ]
    return [keras.saving.serialize_keras_object(layer) for layer in layers]


def test_conformance_with_alpha_gradients():
    report = run_layer_test(
        MixedOperation,
        {"candidates": _candidates(), "alpha_initializer": "random_normal"},
        _x(),
        expected_output_shape=(2, 5, 5, 3),
    )
    # The float64 finite-difference check covers every trainable weight, alpha included.
    assert report.results["gradients"] == "passed"
    layer = MixedOperation(_candidates())
    layer(_x())
    assert [w.path.split("/")[-1] for w in layer.architecture_weights] == ["alpha"]
    assert len(layer.operation_weights) == 2  # the convolution's kernel and bias


def test_output_and_alpha_gradient_match_numpy():
    x = _x()
    layer = MixedOperation(_candidates(), alpha_initializer="random_normal")
    y = np.asarray(layer(x))
    alpha = np.asarray(layer.alpha, "float64")
    p = np.exp(alpha - alpha.max())
    p /= p.sum()
    outs = [np.asarray(c(x), "float64") for c in layer.candidates]
    np.testing.assert_allclose(y, sum(w * o for w, o in zip(p, outs)), atol=1e-5)
    # d sum(y) / d alpha_i = p_i (s_i - sum_j p_j s_j): the softmax Jacobian.
    s = np.array([o.sum() for o in outs])
    expected = p * (s - p @ s)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        total = keras.ops.sum(layer(x))
    grad = tape.gradient(total, layer.alpha.value)
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=1e-3, atol=1e-4)


def test_shared_alpha_is_passed_by_the_owner():
    x = _x()
    layer = MixedOperation(_candidates(), shared_alpha=True)
    alpha = np.array([5.0, -5.0, -5.0, -5.0], "float32")
    y = np.asarray(layer(x, alpha=alpha))
    np.testing.assert_allclose(y, np.asarray(layer.candidates[0](x)), atol=1e-3)
    assert layer.architecture_weights == [] and not any("alpha" in w.path for w in layer.weights)
    restored = MixedOperation.from_config(layer.get_config())
    assert restored.shared_alpha


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"candidates": []}, "candidates"),
        ({"candidates": keras.layers.Dense(2)}, "candidates"),
        ({"candidates": [keras.layers.Dense(2), "relu"]}, "candidates"),
    ],
)
def test_bad_candidates(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`.*Received"):
        MixedOperation(**kwargs)


def test_mismatched_shapes_and_bad_alpha():
    layer = MixedOperation([keras.layers.Dense(2), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="`candidates`.*Received"):
        layer(np.ones((1, 4), "float32"))
    layer = MixedOperation([keras.layers.Dense(2), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"`alpha`.*Received: alpha.shape=\(3,\)"):
        layer(np.ones((1, 4), "float32"), alpha=np.zeros(3, "float32"))
    shared = MixedOperation([keras.layers.Dense(2)], shared_alpha=True)
    with pytest.raises(ValueError, match="`alpha`"):
        shared(np.ones((1, 4), "float32"))
