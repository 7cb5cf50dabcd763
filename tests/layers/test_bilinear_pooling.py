"""BilinearPooling: the full outer product, MLB against NumPy, the count sketch's estimate."""

import keras
import numpy as np
import pytest

from keras_dlss.layers import BilinearPooling
from keras_dlss.testing import run_layer_test

RNG = np.random.default_rng(0)
_np = keras.ops.convert_to_numpy


def _f(*shape):
    return RNG.normal(size=shape).astype("float32")


def test_full_is_the_flattened_outer_product_at_any_rank():
    x, y = _f(2, 3, 4), _f(2, 3, 5)
    out = _np(BilinearPooling("full")([x, y]))
    np.testing.assert_allclose(out, np.einsum("bti,btj->btij", x, y).reshape(2, 3, 20), atol=1e-6)


def test_low_rank_against_the_papers_equation():
    x, y = _f(3, 6), _f(3, 4)
    layer = BilinearPooling("low_rank", rank=5, units=2)
    out = _np(layer([x, y]))
    w = {k: _np(getattr(layer, k)) for k in ("kernel_x", "kernel_y", "kernel_out", "bias_out")}
    expected = (np.tanh(x @ w["kernel_x"]) * np.tanh(y @ w["kernel_y"])) @ w["kernel_out"]
    np.testing.assert_allclose(out, expected + w["bias_out"], atol=1e-5)
    assert BilinearPooling("low_rank", rank=5)([x, y]).shape == (3, 5)


def _numpy_tensor_sketch(x, y, sx, sy):
    """Circular convolution of the count sketches, summed directly (no FFT)."""
    px, py = x @ sx, y @ sy
    d = px.shape[-1]
    index = (np.arange(d)[:, None] - np.arange(d)[None, :]) % d  # out[k] = sum_j px[j] py[k-j]
    return np.einsum("bj,bkj->bk", px, py[:, index])


def test_compact_is_the_circular_convolution_of_count_sketches():
    x, y = _f(3, 6), _f(3, 4)
    layer = BilinearPooling("compact", output_dim=16, seed=1)
    out = _np(layer([x, y]))
    sx, sy = _np(layer.sketch_x), _np(layer.sketch_y)
    assert (np.abs(sx).sum(1) == 1).all() and (np.abs(sy).sum(1) == 1).all()
    np.testing.assert_allclose(out, _numpy_tensor_sketch(x, y, sx, sy), atol=1e-4)


def test_compact_inner_products_estimate_the_full_ones_within_the_documented_error():
    d, n = 1024, 200
    unit = lambda a: a / np.linalg.norm(a, axis=-1, keepdims=True)  # noqa: E731
    x, y, x2, y2 = (unit(_f(n, 16)) for _ in range(4))
    # Correlated pairs too, so the true inner products are not all near zero.
    x2, y2 = unit(x + 0.5 * x2), unit(y + 0.5 * y2)
    layer = BilinearPooling("compact", output_dim=d, seed=0)
    estimate = np.sum(_np(layer([x, y])) * _np(layer([x2, y2])), axis=-1)
    exact = np.sum(x * x2, -1) * np.sum(y * y2, -1)
    full = BilinearPooling("full")
    np.testing.assert_allclose(
        np.sum(_np(full([x, y])) * _np(full([x2, y2])), -1), exact, atol=1e-5
    )
    error = estimate - exact
    bound = np.sqrt(11.0 / d)  # the docstring's standard deviation bound for unit vectors
    assert np.sqrt(np.mean(error**2)) <= bound
    assert np.max(np.abs(error)) <= 4 * bound
    assert abs(np.mean(error)) <= 4 * bound / np.sqrt(n)  # unbiased


def test_same_seed_same_sketch_and_bad_arguments():
    x, y = _f(2, 3), _f(2, 4)
    a = BilinearPooling("compact", output_dim=8, seed=3)([x, y])
    b = BilinearPooling("compact", output_dim=8, seed=3)([x, y])
    np.testing.assert_array_equal(_np(a), _np(b))
    with pytest.raises(ValueError, match="`output_dim`.*Received"):
        BilinearPooling("compact")
    with pytest.raises(ValueError, match="`mode`.*Received"):
        BilinearPooling("outer")
    with pytest.raises(ValueError, match="`y`.*Received: x.shape=\\(2, 3\\), y.shape=\\(3, 4\\)"):
        BilinearPooling("full")([x, _f(3, 4)])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "full"},
        {"mode": "low_rank", "rank": 4, "units": 3},
        {"mode": "compact", "output_dim": 8, "seed": 0},
    ],
)
def test_bilinear_pooling_conformance(kwargs):
    x = [_f(2, 3), _f(2, 4)]
    print(run_layer_test(BilinearPooling, kwargs, x))
