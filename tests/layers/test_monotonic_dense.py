import keras
import numpy as np
import pytest

from keras_dlss.layers import MonotonicDense
from keras_dlss.testing import run_layer_test


def _x(shape=(4, 5), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def test_conformance():
    report = run_layer_test(
        MonotonicDense,
        {"units": 3, "increasing": [0, 2], "decreasing": [4], "activation": "tanh"},
        _x(),
        expected_output_shape=(4, 3),
        atol=1e-4,
        rtol=1e-4,
    )
    for check in ("serialization", "xla_parity", "gradients", "fit_xla"):
        assert report.results[check] == "passed", report


def test_effective_kernel_matches_numpy():
    layer = MonotonicDense(3, increasing=[0], decreasing=[1])
    layer.build((None, 3))
    w = keras.ops.convert_to_numpy(layer.kernel)
    expected = np.stack([np.abs(w[0]), -np.abs(w[1]), w[2]])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.effective_kernel), expected)
    x = _x((2, 3))
    b = keras.ops.convert_to_numpy(layer.bias)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), x @ expected + b, atol=1e-5)


def _random_net(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((4,)),
            MonotonicDense(16, increasing=[0, 1], decreasing=[2], activation="tanh"),
            MonotonicDense(16, increasing="all", activation="relu"),
            MonotonicDense(1, increasing="all"),
        ]
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_monotone_on_random_probes(seed):
    model = _random_net(seed)
    rng = np.random.default_rng(seed)
    # Weights that training could reach: any sign of the raw variable.
    model.set_weights([rng.normal(size=w.shape).astype("float32") * 2 for w in model.get_weights()])
    x = rng.normal(size=(256, 4)).astype("float32") * 3
    step = np.abs(rng.normal(size=(256,))).astype("float32") + 1e-2
    base = model(x).numpy() if hasattr(model(x), "numpy") else keras.ops.convert_to_numpy(model(x))
    for feature, sign in ((0, 1), (1, 1), (2, -1)):
        moved = x.copy()
        moved[:, feature] += step
        out = keras.ops.convert_to_numpy(model(moved))
        assert np.all(sign * (out - base) >= -1e-5), feature
    # The free feature is not constrained: the same probes find both directions.
    moved = x.copy()
    moved[:, 3] += step
    diff = keras.ops.convert_to_numpy(model(moved)) - base
    assert (diff > 1e-4).any() and (diff < -1e-4).any()


def test_monotone_after_training_and_reload(tmp_path):
    model = _random_net(3)
    model.compile("adam", "mse", jit_compile=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (np.sin(3 * x[:, :1]) - x[:, 1:2]).astype("float32")  # non-monotone target
    model.fit(x, y, epochs=3, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    grid = np.zeros((50, 4), "float32")
    grid[:, 0] = np.linspace(-3, 3, 50)
    out = keras.ops.convert_to_numpy(loaded(grid))[:, 0]
    assert np.all(np.diff(out) >= -1e-5)
    np.testing.assert_allclose(out, keras.ops.convert_to_numpy(model(grid))[:, 0], atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"units": 0}, "units"),
        ({"units": 2, "activation": "gelu"}, "activation"),
        ({"units": 2, "increasing": "some"}, "increasing"),
        ({"units": 2, "increasing": "all", "decreasing": [0]}, "decreasing"),
    ],
)
def test_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`.*Received"):
        MonotonicDense(**kwargs)


def test_bad_indices_at_build():
    with pytest.raises(ValueError, match="`increasing`.*Received"):
        MonotonicDense(2, increasing=[5])(_x((2, 3)))
    with pytest.raises(ValueError, match="`decreasing`.*Received"):
        MonotonicDense(2, increasing=[0], decreasing=[0])(_x((2, 3)))
