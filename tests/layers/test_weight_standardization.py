import keras
import numpy as np
import pytest

from keras_dlss.layers import WeightStandardizedConv2D
from keras_dlss.testing import run_layer_test


def _x(shape=(2, 6, 6, 4), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _standardize_numpy(w, eps):
    # Per output channel (last axis) over (kh, kw, in), biased variance.
    w = w.astype("float64")
    mean = w.mean(axis=(0, 1, 2), keepdims=True)
    var = w.var(axis=(0, 1, 2), keepdims=True)
    return (w - mean) / np.sqrt(var + eps)


@pytest.mark.parametrize(
    "init_kwargs, output_shape",
    [
        ({"filters": 3, "kernel_size": 3}, (2, 4, 4, 3)),
        (
            {
                "filters": 4,
                "kernel_size": (2, 3),
                "strides": 2,
                "padding": "same",
                "groups": 2,
                "activation": "tanh",
                "epsilon": 1e-4,
            },
            (2, 3, 3, 4),
        ),
    ],
)
def test_conformance(init_kwargs, output_shape):
    report = run_layer_test(
        WeightStandardizedConv2D,
        init_kwargs,
        _x(),
        expected_output_shape=output_shape,
        atol=1e-4,
        rtol=1e-4,
    )
    for check in ("serialization", "xla_parity", "export", "gradients", "fit_xla"):
        assert report.results[check] == "passed", report


@pytest.mark.parametrize(
    "kwargs",
    [
        {"filters": 5, "kernel_size": 3},
        {"filters": 4, "kernel_size": 3, "padding": "same", "dilation_rate": 2},
        {"filters": 6, "kernel_size": (3, 2), "strides": (2, 1), "activation": "relu"},
        {"filters": 4, "kernel_size": 3, "groups": 2, "use_bias": False},
        {"filters": 3, "kernel_size": 3, "epsilon": 0.5},
    ],
)
def test_matches_conv2d_with_hand_standardized_kernel(kwargs):
    x = _x()
    layer = WeightStandardizedConv2D(**kwargs, bias_initializer="random_normal")
    y = keras.ops.convert_to_numpy(layer(x))
    plain_kwargs = {k: v for k, v in kwargs.items() if k != "epsilon"}
    plain = keras.layers.Conv2D(**plain_kwargs)
    plain.build(x.shape)
    w = keras.ops.convert_to_numpy(layer.kernel)
    weights = [_standardize_numpy(w, layer.epsilon).astype("float32")]
    if layer.use_bias:
        weights.append(keras.ops.convert_to_numpy(layer.bias))
    plain.set_weights(weights)
    np.testing.assert_allclose(y, keras.ops.convert_to_numpy(plain(x)), atol=1e-4, rtol=1e-4)
    # The reference is not vacuous: the raw kernel gives a different output.
    raw = keras.layers.Conv2D(**plain_kwargs)
    raw.build(x.shape)
    raw.set_weights([w, *weights[1:]])
    assert not np.allclose(y, keras.ops.convert_to_numpy(raw(x)), atol=1e-3)


def test_channels_first_matches_channels_last():
    x = _x()
    last = WeightStandardizedConv2D(3, 3, bias_initializer="random_normal")
    y_last = last(x)
    first = WeightStandardizedConv2D(3, 3, data_format="channels_first")
    first.build((2, 4, 6, 6))
    first.set_weights(last.get_weights())
    try:
        y_first = first(np.transpose(x, (0, 3, 1, 2)))
    except Exception as e:  # TF's CPU conv has no NCHW kernel outside XLA
        pytest.skip(f"channels_first conv unsupported on this device: {e}")
    np.testing.assert_allclose(
        np.transpose(keras.ops.convert_to_numpy(y_first), (0, 2, 3, 1)), y_last, atol=1e-5
    )


def test_scaling_and_shifting_the_kernel_changes_nothing():
    # The effect the paper relies on: output is invariant to per-filter affine
    # changes of W (up to epsilon), so only the direction of each filter matters.
    x = _x()
    layer = WeightStandardizedConv2D(3, 3, use_bias=False, epsilon=1e-12)
    y = keras.ops.convert_to_numpy(layer(x))
    w = keras.ops.convert_to_numpy(layer.kernel)
    layer.kernel.assign(w * np.array([3.0, 0.5, 7.0]) + np.array([1.0, -2.0, 0.1]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), y, atol=1e-4)


def test_trainable_variable_stays_raw():
    layer = WeightStandardizedConv2D(2, 3, kernel_initializer="ones", use_bias=False)
    layer.build((1, 5, 5, 1))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.kernel), np.ones((3, 3, 1, 2)))


def test_config_keeps_conv2d_arguments():
    layer = WeightStandardizedConv2D(
        8,
        (3, 1),
        strides=2,
        padding="same",
        dilation_rate=1,
        groups=2,
        use_bias=False,
        kernel_regularizer="l2",
        epsilon=1e-3,
        name="ws",
    )
    config = layer.get_config()
    assert config["epsilon"] == 1e-3
    assert config["groups"] == 2 and config["kernel_size"] == (3, 1)
    clone = WeightStandardizedConv2D.from_config(config)
    assert clone.get_config() == config


def test_wrong_rank_raises():
    layer = WeightStandardizedConv2D(2, 3)
    with pytest.raises(
        ValueError, match=r"Argument `inputs` must have rank 4.*inputs.shape=\(2, 6, 4\)"
    ):
        layer(np.zeros((2, 6, 4), "float32"))


@pytest.mark.parametrize("epsilon", [0, -1e-5, "x"])
def test_bad_epsilon_raises(epsilon):
    with pytest.raises(ValueError, match=rf"Argument `epsilon`.*Received: epsilon={epsilon!r}"):
        WeightStandardizedConv2D(2, 3, epsilon=epsilon)


def test_groups_not_dividing_channels_raises():
    layer = WeightStandardizedConv2D(4, 3, groups=4)
    with pytest.raises(ValueError, match=r"groups=4.*6 channels"):
        layer(np.zeros((1, 5, 5, 6), "float32"))


def test_wrong_rank_after_build_raises():
    layer = WeightStandardizedConv2D(2, 3)
    layer(_x())
    with pytest.raises(ValueError, match=r"rank 4.*\(2, 6, 6, 6, 4\)"):
        layer(np.zeros((2, 6, 6, 6, 4), "float32"))
