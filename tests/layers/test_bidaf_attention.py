"""BiDAFAttention against a numpy transcription of Seo et al. (2017) Eqs. 1-4; masks by effect."""

import keras
import numpy as np
import pytest

from keras_dlss.layers import BiDAFAttention
from keras_dlss.testing import run_layer_test

_np = keras.ops.convert_to_numpy
RNG = np.random.default_rng(0)
B, T, J, D = 2, 6, 4, 3


def _inputs():
    return (
        RNG.normal(size=(B, T, D)).astype("float32"),
        RNG.normal(size=(B, J, D)).astype("float32"),
    )


def _softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def _reference(w, context, query, context_mask, query_mask):
    """Loops over t and j, building [h; u; h o u] as Eq. 1 writes it."""
    out = np.zeros((B, T, 4 * D))
    for b in range(B):
        real_t = np.flatnonzero(context_mask[b])
        real_j = np.flatnonzero(query_mask[b])
        s = np.array(
            [[w @ np.concatenate([h, u, h * u]) for u in query[b, real_j]] for h in context[b]]
        )
        h_tilde = _softmax(s.max(axis=1)[real_t]) @ context[b, real_t]
        for t in range(T):
            u_tilde = _softmax(s[t]) @ query[b, real_j]
            h = context[b, t]
            out[b, t] = np.concatenate([h, u_tilde, h * u_tilde, h * h_tilde])
    return out


def _masks():
    context_mask = np.ones((B, T), bool)
    context_mask[1, 4:] = False
    query_mask = np.ones((B, J), bool)
    query_mask[0, 2:] = False
    return context_mask, query_mask


def test_matches_numpy_reference_with_masks():
    context, query = _inputs()
    context_mask, query_mask = _masks()
    layer = BiDAFAttention()
    got = _np(layer([context, query], mask=[context_mask, query_mask]))
    expected = _reference(_np(layer.kernel), context, query, context_mask, query_mask)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    c2q, q2c = layer.attention_weights([context, query], mask=[context_mask, query_mask])
    c2q, q2c = _np(c2q), _np(q2c)
    np.testing.assert_allclose(c2q.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(q2c.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(c2q[0, :, 2:], 0.0)  # query padding gets no attention
    np.testing.assert_array_equal(q2c[1, 4:], 0.0)  # context padding gets no attention


def test_padding_changes_nothing_by_effect():
    context, query = _inputs()
    context_mask, query_mask = _masks()
    layer = BiDAFAttention()
    base = _np(layer([context, query], mask=[context_mask, query_mask]))
    noisy_context, noisy_query = context.copy(), query.copy()
    noisy_context[~context_mask] = 50.0
    noisy_query[~query_mask] = -50.0
    moved = _np(layer([noisy_context, noisy_query], mask=[context_mask, query_mask]))
    np.testing.assert_allclose(moved[context_mask], base[context_mask], rtol=1e-5, atol=1e-5)
    # Without the masks the padding is attended to, so the masks are what protects the output.
    unmasked = _np(layer([noisy_context, noisy_query]))
    assert not np.allclose(unmasked[context_mask], base[context_mask], atol=1e-3)


def test_keras_masks_flow_in_and_out():
    ids_c = keras.Input((None,), dtype="int32")
    ids_q = keras.Input((None,), dtype="int32")
    embed = keras.layers.Embedding(10, D, mask_zero=True)
    g = BiDAFAttention()([embed(ids_c), embed(ids_q)])
    pooled = keras.layers.GlobalAveragePooling1D()(g)  # averages over unmasked steps only
    model = keras.Model([ids_c, ids_q], pooled)
    c = np.array([[1, 2, 3, 0, 0]], "int32")
    q = np.array([[4, 5, 0]], "int32")
    base = _np(model([c, q]))
    np.testing.assert_allclose(_np(model([c[:, :3], q[:, :2]])), base, rtol=1e-5, atol=1e-6)


def test_conformance():
    context, query = _inputs()
    report = run_layer_test(
        BiDAFAttention, {}, [context, query], expected_output_shape=(B, T, 4 * D)
    )
    assert "failed" not in str(report)


def test_bad_inputs():
    context, query = _inputs()
    with pytest.raises(ValueError, match="`inputs`.*Received"):
        BiDAFAttention()([context, query[..., :2]])
    with pytest.raises(ValueError, match="`mask`.*Received"):
        BiDAFAttention()([context, query], mask=[np.ones((B, T + 1), bool), None])
