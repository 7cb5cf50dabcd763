import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dlss.layers import RelativeMultiHeadAttention


def _inputs(shape=(2, 6, 8), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _harness():
    testing = pytest.importorskip("keras_dlss.testing")
    if not hasattr(testing, "run_layer_test"):
        pytest.skip("keras_dlss.testing.run_layer_test not available yet")
    return testing.run_layer_test


def _has_gradient_check():
    import keras_dlss.debugging as debugging

    return hasattr(debugging, "gradient_check")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_heads": 2, "key_dim": 4, "causal": True},
        {
            "num_heads": 2,
            "key_dim": 3,
            "max_relative_position": 2,
            "heads_share_relative_embedding": True,
            "output_dim": 5,
        },
    ],
)
def test_conformance(kwargs):
    run_layer_test = _harness()
    out_dim = kwargs.get("output_dim", 8)
    run_layer_test(
        RelativeMultiHeadAttention,
        kwargs,
        _inputs(),
        expected_output_shape=(2, 6, out_dim),
        check_gradients=_has_gradient_check(),
    )


def _reference(layer, x, mask=None):
    """Explicit per-pair computation of Shaw et al.'s logits from the layer's weights."""
    q = np.asarray(layer._query_dense(x)) / np.sqrt(layer.key_dim)  # [B, T, H, D]
    k = np.asarray(layer._key_dense(x))
    v = np.asarray(layer._value_dense(x))
    table = np.asarray(layer.relative_embeddings)
    if table.ndim == 2:
        table = np.broadcast_to(table, (layer.num_heads, *table.shape))
    clip, length = layer._clip, x.shape[1]
    high = 0 if layer.causal else clip
    logits = np.einsum("bihd,bjhd->bhij", q, k)
    for i in range(length):
        for j in range(length):
            row = np.clip(j - i, -clip, high) + clip
            logits[:, :, i, j] += np.einsum("bhd,hd->bh", q[:, i], table[:, row])
    allowed = np.ones((1, 1, length, length), bool)
    if layer.causal:
        allowed = allowed & np.tril(np.ones((length, length), bool))
    if mask is not None:  # Keras semantics: padded keys hidden, padded query rows uniform
        allowed = allowed & mask[:, None, None, :] & mask[:, None, :, None]
    logits = np.where(allowed, logits, -1e9)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    context = np.einsum("bhij,bjhd->bihd", probs, v)
    return np.asarray(layer._output_dense(context.astype("float32")))


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("shared", [True, False])
def test_matches_explicit_reference_with_clipping_and_mask(causal, shared):
    x = _inputs()
    mask = np.array([[1] * 6, [1] * 4 + [0] * 2], bool)
    layer = RelativeMultiHeadAttention(
        2, 4, max_relative_position=2, causal=causal, heads_share_relative_embedding=shared
    )
    got = np.asarray(layer(x, mask=mask))
    np.testing.assert_allclose(got, _reference(layer, x, mask), atol=1e-5)
    rows = 3 if causal else 5
    assert layer.relative_embeddings.shape == ((rows, 4) if shared else (2, rows, 4))


def test_relative_term_matters():
    # Two layers with equal projections but different relative tables differ.
    x = _inputs()
    a = RelativeMultiHeadAttention(2, 4, causal=True)
    a(x)
    b = RelativeMultiHeadAttention(2, 4, causal=True)
    b(x)
    b.set_weights(a.get_weights())
    b.relative_embeddings.assign(np.zeros(b.relative_embeddings.shape, "float32"))
    assert not np.allclose(np.asarray(a(x)), np.asarray(b(x)), atol=1e-4)


def test_cached_decoding_equals_full_forward():
    x = _inputs((2, 7, 8), seed=3)
    layer = RelativeMultiHeadAttention(2, 4, causal=True, max_relative_position=4)
    full = np.asarray(layer(x))

    @tf.function(jit_compile=True)
    def step(token, cache, index):
        return layer(token, cache=cache, cache_update_index=index)

    cache = layer.initial_cache(2, 7)
    outputs = []
    for t in range(7):
        out, cache = step(x[:, t : t + 1], cache, tf.constant(t))
        outputs.append(np.asarray(out))
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), full, atol=1e-5)
    # A chunked prefill followed by single steps agrees too.
    cache = layer.initial_cache(2, 7)
    head, cache = layer(x[:, :4], cache=cache, cache_update_index=0)
    tail, cache = layer(x[:, 4:5], cache=cache, cache_update_index=4)
    np.testing.assert_allclose(np.asarray(head), full[:, :4], atol=1e-5)
    np.testing.assert_allclose(np.asarray(tail), full[:, 4:5], atol=1e-5)


def test_causal_effect_future_does_not_change_past():
    x = _inputs()
    layer = RelativeMultiHeadAttention(2, 4, causal=True)
    base = np.asarray(layer(x))
    moved = x.copy()
    moved[:, 4:] += 5.0
    np.testing.assert_allclose(np.asarray(layer(moved))[:, :4], base[:, :4], atol=1e-5)
    assert not np.allclose(np.asarray(layer(moved))[:, 4:], base[:, 4:])


def test_longer_sequences_are_clipped_after_build():
    layer = RelativeMultiHeadAttention(1, 2, causal=True)
    layer(_inputs((1, 4, 3)))  # builds K = 3
    out = layer(_inputs((1, 9, 3)))
    assert out.shape == (1, 9, 3)


def test_save_and_load_round_trip(tmp_path):
    inputs = keras.Input((5, 6))
    outputs = RelativeMultiHeadAttention(2, 3, causal=True, dropout=0.1)(inputs)
    model = keras.Model(inputs, outputs)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = _inputs((2, 5, 6))
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_heads"):
        RelativeMultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match="key_dim"):
        RelativeMultiHeadAttention(2, -1)
    with pytest.raises(ValueError, match="dropout"):
        RelativeMultiHeadAttention(2, 4, dropout=1.0)
    with pytest.raises(ValueError, match="max_relative_position"):
        RelativeMultiHeadAttention(2, 4, max_relative_position=0)
    with pytest.raises(ValueError, match="causal"):
        RelativeMultiHeadAttention(2, 4, causal="yes")
    with pytest.raises(ValueError, match="`query`"):
        RelativeMultiHeadAttention(2, 4)(np.zeros((2, 3), "float32"))
    layer = RelativeMultiHeadAttention(2, 4, causal=True)
    with pytest.raises(ValueError, match="max_relative_position"):
        layer.build((None, None, 8))
    with pytest.raises(ValueError, match="cache_update_index"):
        layer2 = RelativeMultiHeadAttention(2, 4, causal=True)
        layer2(_inputs((2, 1, 8)), cache=np.zeros((2, 2, 4, 2, 4), "float32"))


def _cross_reference(layer, x, memory, causal):
    """Per-pair logits for cross-attention, end-aligned: query i sits at key i + Lk - Lq."""
    q = np.asarray(layer._query_dense(x)) / np.sqrt(layer.key_dim)
    k = np.asarray(layer._key_dense(memory))
    v = np.asarray(layer._value_dense(memory))
    table = np.asarray(layer.relative_embeddings)
    if table.ndim == 2:
        table = np.broadcast_to(table, (layer.num_heads, *table.shape))
    clip, lq, lk = layer._clip, x.shape[1], memory.shape[1]
    high = 0 if layer.causal else clip
    logits = np.einsum("bihd,bjhd->bhij", q, k)
    allowed = np.ones((lq, lk), bool)
    for i in range(lq):
        for j in range(lk):
            distance = j - (i + lk - lq)
            logits[:, :, i, j] += np.einsum(
                "bhd,hd->bh", q[:, i], table[:, np.clip(distance, -clip, high) + clip]
            )
            allowed[i, j] = not causal or distance <= 0
    logits = np.where(allowed, logits, -1e9)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    context = np.einsum("bhij,bjhd->bihd", probs, v)
    return np.asarray(layer._output_dense(context.astype("float32"))), probs


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("lq,lk", [(3, 7), (7, 3)])
def test_cross_attention_matches_end_aligned_reference(causal, lq, lk):
    if causal and lq > lk:
        pytest.skip("early queries would see no key at all")
    x, memory = _inputs((2, lq, 8), seed=5), _inputs((2, lk, 6), seed=6)
    layer = RelativeMultiHeadAttention(2, 4, max_relative_position=3, causal=causal)
    got, scores = layer(x, memory, return_attention_scores=True)
    want, probs = _cross_reference(layer, x, memory, causal)
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-5)
    np.testing.assert_allclose(np.asarray(scores), probs, atol=1e-5)
    assert scores.shape == (2, 2, lq, lk)


def test_keras_call_convention():
    x = _inputs()
    mask = np.array([[1] * 6, [1] * 4 + [0] * 2], bool)
    layer = RelativeMultiHeadAttention(2, 4, causal=True)
    base = np.asarray(layer(x, mask=mask))
    # The drop-in call of keras.layers.MultiHeadAttention: layer(x, x) is self-attention.
    np.testing.assert_allclose(np.asarray(layer(x, x)), np.asarray(layer(x)), atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(layer(x, x, query_mask=mask, value_mask=mask)), base, atol=1e-6
    )
    np.testing.assert_allclose(np.asarray(layer(x, query_mask=mask)), base, atol=1e-6)
    # The last n queries against all keys equal the last n rows of self-attention.
    np.testing.assert_allclose(
        np.asarray(layer(x[:, 2:], x)), np.asarray(layer(x))[:, 2:], atol=1e-5
    )
    # use_causal_mask at call time on a non-causal layer.
    free = RelativeMultiHeadAttention(2, 4)
    causal = np.asarray(free(x, use_causal_mask=True))
    moved = x.copy()
    moved[:, 4:] += 3.0
    np.testing.assert_allclose(
        np.asarray(free(moved, use_causal_mask=True))[:, :4], causal[:, :4], atol=1e-5
    )
    out, scores = free(x, return_attention_scores=True)
    np.testing.assert_allclose(np.asarray(scores).sum(-1), 1.0, atol=1e-5)


def test_keras_mask_flows_into_query_and_value_masks():
    tokens = np.array([[3, 4, 5, 6], [3, 4, 0, 0]])
    inputs = keras.Input((4,), dtype="int32")
    embedding = keras.layers.Embedding(10, 8, mask_zero=True)
    layer = RelativeMultiHeadAttention(2, 4)
    embedded = embedding(inputs)
    model = keras.Model(inputs, layer(embedded, embedded))
    e, mask = np.asarray(embedding(tokens)), tokens != 0
    want = np.asarray(layer(e, e, query_mask=mask, value_mask=mask))
    np.testing.assert_allclose(np.asarray(model(tokens)), want, atol=1e-6)
    assert not np.allclose(np.asarray(layer(e, e))[1, :2], want[1, :2], atol=1e-4)


def test_keras_masked_input_is_consumed_without_mask_warning():
    # The projections must not warn that they destroy the mask (keras MultiHeadAttention
    # does not), and the mask must still reach the attention.
    tokens = np.array([[3, 4, 5, 6], [3, 4, 0, 0]])
    embedded = keras.layers.Embedding(10, 8, mask_zero=True)(tokens)
    layer = RelativeMultiHeadAttention(2, 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        self_attention = np.asarray(layer(embedded))
        cross_attention = np.asarray(layer(embedded, embedded))
    assert not [w for w in caught if "mask" in str(w.message)], [str(w.message) for w in caught]
    e, mask = np.asarray(embedded), tokens != 0
    want = np.asarray(layer(e, query_mask=mask))
    np.testing.assert_allclose(self_attention, want, atol=1e-6)
    np.testing.assert_allclose(cross_attention, want, atol=1e-6)
    assert not np.allclose(np.asarray(layer(e))[1, :2], want[1, :2], atol=1e-4)


def test_symbolic_none_dims_and_xla():
    inputs = keras.Input((None, 8))
    memory = keras.Input((None, 6))
    outputs = [
        RelativeMultiHeadAttention(2, 4, max_relative_position=3, causal=True)(inputs),
        RelativeMultiHeadAttention(2, 4, max_relative_position=3)(inputs, memory),
    ]
    model = keras.Model([inputs, memory], outputs)
    model.compile(loss="mse", jit_compile=True)
    x, m = _inputs((2, 5, 8)), _inputs((2, 7, 6))
    model.fit([x, m], [x, x], verbose=0)
    for got in model.predict([x, m], verbose=0):
        assert got.shape == (2, 5, 8) and np.all(np.isfinite(got))


def test_malformed_calls_raise_value_errors_naming_the_argument():
    from tests.layers.malformed_cases_attention import CASES

    for _public_name, argument, thunk in CASES:
        with pytest.raises(ValueError, match=f"`{argument}`"):
            thunk()
