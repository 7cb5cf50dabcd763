"""FiLM and the gated multimodal unit: identity, broadcasting, gates against NumPy, conformance."""

import keras
import numpy as np
import pytest

from keras_dlss.layers import FiLM, GatedMultimodalUnit
from keras_dlss.testing import run_layer_test

RNG = np.random.default_rng(0)
_np = keras.ops.convert_to_numpy
MAPS = RNG.normal(size=(2, 3, 4, 5)).astype("float32")


def test_film_with_unit_gamma_and_zero_beta_is_the_identity():
    ones, zeros = np.ones((2, 5), "float32"), np.zeros((2, 5), "float32")
    np.testing.assert_array_equal(_np(FiLM()([MAPS, ones, zeros])), MAPS)
    np.testing.assert_array_equal(_np(FiLM(delta_gamma=True)([MAPS, zeros, zeros])), MAPS)


def test_film_scales_and_shifts_each_channel_at_every_position():
    gamma, beta = (
        RNG.normal(size=(2, 5)).astype("float32"),
        RNG.normal(size=(2, 5)).astype("float32"),
    )
    expected = MAPS * gamma[:, None, None, :] + beta[:, None, None, :]
    np.testing.assert_allclose(_np(FiLM()([MAPS, gamma, beta])), expected, atol=1e-6)
    with pytest.raises(ValueError, match="`gamma`.*Received: gamma.shape=\\(2, 4\\)"):
        FiLM()([MAPS, gamma[:, :4], beta])


def test_gmu_against_the_papers_equations():
    visual, textual = (
        RNG.normal(size=(3, 6)).astype("float32"),
        RNG.normal(size=(3, 4)).astype("float32"),
    )
    layer = GatedMultimodalUnit(5)
    out = _np(layer([visual, textual]))
    k = [_np(w) for w in layer.modality_kernels]
    h_v, h_t = np.tanh(visual @ k[0]), np.tanh(textual @ k[1])
    logits = np.concatenate([visual, textual], -1) @ _np(layer.gate_kernel)
    z = 1.0 / (1.0 + np.exp(logits[:, 5:] - logits[:, :5]))  # the two-way softmax is a sigmoid
    np.testing.assert_allclose(out, z * h_v + (1 - z) * h_t, atol=1e-5)
    gates = _np(layer.gates([visual, textual]))
    np.testing.assert_allclose(gates.sum(-2), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="`inputs`"):
        GatedMultimodalUnit(5)([visual])


def test_film_conformance():
    gamma, beta = (
        RNG.normal(size=(2, 5)).astype("float32"),
        RNG.normal(size=(2, 5)).astype("float32"),
    )
    print(
        run_layer_test(
            FiLM,
            {"delta_gamma": True},
            [MAPS[:, :2, :2], gamma, beta],
            expected_output_shape=(2, 2, 2, 5),
        )
    )


def test_gated_multimodal_unit_conformance():
    x = [RNG.normal(size=(2, 3)).astype("float32"), RNG.normal(size=(2, 4)).astype("float32")]
    print(run_layer_test(GatedMultimodalUnit, {"units": 3}, x, expected_output_shape=(2, 3)))
