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
    if mask is not None:
        allowed = allowed & mask[:, None, None, :]
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
    with pytest.raises(ValueError, match="inputs"):
        RelativeMultiHeadAttention(2, 4)(np.zeros((2, 3), "float32"))
    layer = RelativeMultiHeadAttention(2, 4, causal=True)
    with pytest.raises(ValueError, match="max_relative_position"):
        layer.build((None, None, 8))
    with pytest.raises(ValueError, match="cache_update_index"):
        layer2 = RelativeMultiHeadAttention(2, 4, causal=True)
        layer2(_inputs((2, 1, 8)), cache=np.zeros((2, 2, 4, 2, 4), "float32"))
