import keras
import numpy as np
import pytest

from keras_dlss.debugging import gradient_check
from keras_dlss.regularizers import GroupLasso


def _numpy_group_lasso(w, factor, axis):
    w = np.moveaxis(w.astype("float64"), axis, 0).reshape(w.shape[axis], -1)
    return factor * np.sqrt(w.shape[1]) * np.linalg.norm(w, axis=1).sum()


@pytest.mark.parametrize("shape, axis", [((5, 3), -2), ((3, 3, 4, 2), -2), ((4, 6), 1)])
def test_matches_numpy(shape, axis):
    w = np.random.default_rng(0).normal(size=shape).astype("float32")
    got = float(GroupLasso(0.3, axis=axis)(w))
    np.testing.assert_allclose(got, _numpy_group_lasso(w, 0.3, axis), rtol=1e-5)


def test_gradient_finite_at_zero_row_and_checked():
    w = np.random.default_rng(1).normal(size=(4, 3))
    w[2] = 0.0
    reg = GroupLasso(1.0)
    g = keras.ops.convert_to_numpy(
        keras_grad(lambda v: reg(v), keras.ops.convert_to_tensor(w, "float32"))
    )
    assert np.all(np.isfinite(g)) and np.all(g[2] == 0.0)
    w[2] = 0.5  # the finite-difference check away from the kink
    gradient_check(lambda v: reg(v), (w,))


def keras_grad(f, x):
    from keras_dlss.autodiff import grad

    return grad(f)(x)


def test_selects_informative_features_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 10)).astype("float32")
    y = (x[:, 0] - x[:, 3] + x[:, 7]).astype("float32")[:, None]
    first = keras.layers.Dense(16, activation="tanh", kernel_regularizer=GroupLasso(1e-2))
    model = keras.Sequential([keras.Input((10,)), first, keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.02), "mse", jit_compile=True)
    model.fit(x, y, epochs=40, batch_size=128, verbose=0)
    norms = keras.ops.convert_to_numpy(GroupLasso().group_norms(first.kernel))
    informative, noise = norms[[0, 3, 7]], np.delete(norms, [0, 3, 7])
    # Without the penalty every row norm stays near 1 (measured 0.47-1.1).
    assert informative.min() > 20 * noise.max(), norms
    path = tmp_path / "m.keras"
    model.save(path)
    reg = keras.saving.load_model(path).layers[0].kernel_regularizer
    assert isinstance(reg, GroupLasso) and reg.get_config() == {"factor": 1e-2, "axis": -2}


def test_bad_arguments():
    with pytest.raises(ValueError, match="`factor`.*Received"):
        GroupLasso(-1.0)
    with pytest.raises(ValueError, match="`axis`.*Received"):
        GroupLasso(axis=0.5)
    with pytest.raises(ValueError, match="`weights`.*Received"):
        GroupLasso()(np.ones((3,), "float32"))
