"""PointerGenerator layer: conformance, the gate formula, and a distribution per row."""

import keras
import numpy as np

from keras_dlss.layers import PointerGenerator
from keras_dlss.testing import run_layer_test

_np = keras.ops.convert_to_numpy
RNG = np.random.default_rng(1)
B, T, S, V, OOVS = 2, 3, 4, 5, 2
LOGITS = RNG.normal(size=(B, T, V)).astype("float32")
ATTENTION = RNG.dirichlet(np.ones(S), size=(B, T)).astype("float32")
CONTEXT = RNG.normal(size=(B, T, 6)).astype("float32")
STATE = RNG.normal(size=(B, T, 7)).astype("float32")
INPUTS = RNG.normal(size=(B, T, 3)).astype("float32")
IDS = np.array([[5, 1, 5, 6], [2, 3, 4, 0]], "int32")
MASK = np.array([[1, 1, 1, 1], [1, 1, 1, 0]], "int32")
KWARGS = {
    "attention": ATTENTION,
    "context": CONTEXT,
    "decoder_state": STATE,
    "decoder_input": INPUTS,
    "source_ids": IDS,
    "memory_mask": MASK,
}


def test_conformance():
    run_layer_test(
        PointerGenerator,
        {"max_oovs": OOVS},
        LOGITS,
        call_kwargs=KWARGS,
        expected_output_shape=(B, T, V + OOVS),
        mixed_precision_output_dtype="float32",
    )


def test_gate_and_mixture_match_the_paper():
    layer = PointerGenerator(OOVS, bias_initializer="ones")
    log_p = _np(layer(LOGITS, **KWARGS)).astype("float64")
    w_c, w_s, w_x, b = (
        _np(w) for w in (layer.context_kernel, layer.state_kernel, layer.input_kernel, layer.bias)
    )
    p_gen = 1 / (1 + np.exp(-(CONTEXT @ w_c + STATE @ w_s + INPUTS @ w_x + b)))  # eq. 8
    e = np.exp(LOGITS - LOGITS.max(-1, keepdims=True))
    expected = np.zeros((B, T, V + OOVS))
    expected[..., :V] = p_gen * e / e.sum(-1, keepdims=True)
    for bb in range(B):
        a = ATTENTION[bb] * MASK[bb]
        a = a / a.sum(-1, keepdims=True)
        for i in range(S):
            expected[bb, :, IDS[bb, i]] += (1 - p_gen[bb, :, 0]) * a[:, i]
    np.testing.assert_allclose(np.exp(log_p), expected, atol=1e-6)
    np.testing.assert_allclose(np.exp(log_p).sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(_np(layer.gate(CONTEXT, STATE, INPUTS)), p_gen, atol=1e-6)
    # One decoder step is the sequence's row.
    step = {k: (v[:, 1] if v.ndim == 3 else v) for k, v in KWARGS.items()}
    np.testing.assert_allclose(_np(layer(LOGITS[:, 1], **step)), log_p[:, 1], atol=1e-5)
