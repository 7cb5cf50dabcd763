"""Biaffine scorer: conformance harness, a NumPy reference, float64 gradients, bad input."""

import keras
import numpy as np
import pytest

from keras_dlss.debugging import gradient_check
from keras_dlss.layers import Biaffine
from keras_dlss.testing import run_layer_test

RNG = np.random.default_rng(0)
DEP = RNG.normal(size=(2, 4, 3)).astype("float32")
HEAD = RNG.normal(size=(2, 5, 2)).astype("float32")


def test_conformance():
    print(
        run_layer_test(
            Biaffine,
            {"units": 3, "kernel_initializer": "glorot_uniform"},
            [DEP, HEAD],
            expected_output_shape=(2, 4, 5, 3),
        )
    )


@pytest.mark.parametrize("dependent_bias,head_bias", [(True, True), (True, False), (False, False)])
def test_matches_numpy_loops(dependent_bias, head_bias):
    layer = Biaffine(2, dependent_bias, head_bias, kernel_initializer="glorot_uniform")
    out = keras.ops.convert_to_numpy(layer([DEP, HEAD]))
    w = keras.ops.convert_to_numpy(layer.kernel)
    expected = np.zeros_like(out)
    for b, i, j, u in np.ndindex(out.shape):
        x = np.append(DEP[b, i], 1.0) if dependent_bias else DEP[b, i]
        y = np.append(HEAD[b, j], 1.0) if head_bias else HEAD[b, j]
        expected[b, i, j, u] = x @ w[u] @ y
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_zero_start_scores_every_head_equally():
    out = keras.ops.convert_to_numpy(Biaffine(1)([DEP, HEAD]))
    assert np.all(out == 0.0)


def test_float64_gradients():
    layer = Biaffine(2, kernel_initializer="glorot_uniform")
    layer([DEP, HEAD])
    gradient_check(layer, [DEP, HEAD])


def test_bad_input():
    with pytest.raises(ValueError, match="`units`.*Received"):
        Biaffine(0)
    with pytest.raises(ValueError, match="`dependents`.*Received"):
        Biaffine(1)([DEP[0], HEAD])
    with pytest.raises(ValueError, match="`inputs`.*Received"):
        Biaffine(1)(DEP)
