import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dlss.layers import TransformerDecoderBlock, TransformerEncoderBlock


def _x(shape=(2, 5, 8), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _harness():
    testing = pytest.importorskip("keras_dlss.testing")
    if not hasattr(testing, "run_layer_test"):
        pytest.skip("keras_dlss.testing.run_layer_test not available yet")
    import keras_dlss.debugging as debugging

    return testing.run_layer_test, hasattr(debugging, "gradient_check")


# The absolute-attention path runs through the harness in the decoder test below.
@pytest.mark.parametrize("attention", ["relative"])
def test_encoder_conformance(attention):
    run_layer_test, has_grad = _harness()
    run_layer_test(
        TransformerEncoderBlock,
        {"num_heads": 2, "intermediate_dim": 6, "attention": attention},
        _x(),
        expected_output_shape=(2, 5, 8),
        check_gradients=has_grad,
    )


def test_decoder_conformance_relative():
    run_layer_test, has_grad = _harness()
    run_layer_test(
        TransformerDecoderBlock,
        {"num_heads": 2, "intermediate_dim": 6, "max_relative_position": 3},
        _x(),
        expected_output_shape=(2, 5, 8),
        check_gradients=has_grad,
    )


def test_decoder_conformance_absolute_with_memory():
    run_layer_test, has_grad = _harness()
    memory_mask = np.array([[1, 1, 1], [1, 1, 0]], bool)
    run_layer_test(
        TransformerDecoderBlock,
        {"num_heads": 2, "intermediate_dim": 6, "attention": "absolute", "key_dim": 3},
        _x(),
        call_kwargs={"memory": _x((2, 3, 4), seed=1), "memory_mask": memory_mask},
        expected_output_shape=(2, 5, 8),
        check_gradients=has_grad,
    )


@pytest.mark.parametrize("attention", ["relative", "absolute"])
def test_decoder_is_causal_and_encoder_is_not(attention):
    x = _x()
    moved = x.copy()
    moved[:, 3:] += 4.0 * _x((2, 2, 8), seed=9)  # not a constant: LayerNorm would remove it
    dec = TransformerDecoderBlock(2, 6, attention=attention)
    np.testing.assert_allclose(np.asarray(dec(moved))[:, :3], np.asarray(dec(x))[:, :3], atol=1e-5)
    enc = TransformerEncoderBlock(2, 6, attention=attention)
    assert not np.allclose(np.asarray(enc(moved))[:, :3], np.asarray(enc(x))[:, :3], atol=1e-3)


@pytest.mark.parametrize("attention", ["relative", "absolute"])
def test_padding_mask_effect(attention):
    x = _x()
    mask = np.array([[1] * 5, [1, 1, 1, 0, 0]], bool)
    moved = x.copy()
    moved[1, 3:] = 9.0
    enc = TransformerEncoderBlock(2, 6, attention=attention)
    a = np.asarray(enc(x, mask=mask))
    b = np.asarray(enc(moved, mask=mask))
    np.testing.assert_allclose(a[1, :3], b[1, :3], atol=1e-5)
    assert not np.allclose(np.asarray(enc(moved))[1, :3], a[1, :3], atol=1e-3)


def test_memory_mask_effect():
    x, memory = _x(), _x((2, 4, 8), seed=2)
    memory_mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool)
    dec = TransformerDecoderBlock(2, 6)
    base = np.asarray(dec(x, memory=memory, memory_mask=memory_mask))
    moved = memory.copy()
    moved[1, 2:] = 7.0
    np.testing.assert_allclose(
        np.asarray(dec(x, memory=moved, memory_mask=memory_mask)), base, atol=1e-5
    )
    with pytest.raises(ValueError, match="memory"):
        dec(x)


@pytest.mark.parametrize("attention", ["relative", "absolute"])
def test_cached_decoding_equals_full_forward(attention):
    x = _x((2, 6, 8), seed=4)
    block = TransformerDecoderBlock(2, 6, attention=attention)
    full = np.asarray(block(x))
    step = tf.function(lambda t, c, i: block(t, cache=c, cache_update_index=i), jit_compile=True)
    cache = block.initial_cache(2, 6)
    outs = []
    for t in range(6):
        out, cache = step(x[:, t : t + 1], cache, tf.constant(t))
        outs.append(np.asarray(out))
    np.testing.assert_allclose(np.concatenate(outs, 1), full, atol=1e-5)


def test_save_load_round_trip(tmp_path):
    inputs = keras.Input((5, 8))
    hidden = TransformerEncoderBlock(2, 6, dropout=0.1, activation="gelu")(inputs)
    outputs = TransformerDecoderBlock(2, 6, attention="absolute")(hidden)
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded(_x())), np.asarray(model(_x())), atol=1e-6)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_heads"):
        TransformerEncoderBlock(0, 4)
    with pytest.raises(ValueError, match="intermediate_dim"):
        TransformerEncoderBlock(2, 0)
    with pytest.raises(ValueError, match="attention"):
        TransformerDecoderBlock(2, 4, attention="rotary")
    with pytest.raises(ValueError, match="dropout"):
        TransformerDecoderBlock(2, 4, dropout=-0.1)
    with pytest.raises(ValueError, match="inputs"):
        TransformerEncoderBlock(2, 4)(np.zeros((2, 8), "float32"))
    block = TransformerDecoderBlock(2, 4)
    with pytest.raises(ValueError, match="cache_update_index"):
        block(_x(), cache=np.zeros((2, 2, 5, 2, 4), "float32"))


def test_saved_model_and_onnx_export(tmp_path):
    from keras_dlss.export import export_and_compare

    inputs = keras.Input((5, 8))
    hidden = TransformerEncoderBlock(2, 6)(inputs)
    outputs = TransformerDecoderBlock(2, 6, attention="absolute")(hidden)
    model = keras.Model(inputs, outputs)
    assert export_and_compare(model, str(tmp_path / "saved_model"), _x()) < 1e-5
    assert export_and_compare(model, str(tmp_path / "m.onnx"), _x(), format="onnx") < 1e-5


@pytest.mark.parametrize("attention", ["relative", "absolute"])
def test_keras_hub_call_convention(attention):
    x, memory = _x(), _x((2, 4, 8), seed=2)
    pad = np.array([[1] * 5, [1, 1, 1, 0, 0]], bool)
    memory_pad = np.array([[1] * 4, [1, 1, 0, 0]], bool)
    enc = TransformerEncoderBlock(2, 6, attention=attention)
    np.testing.assert_allclose(
        np.asarray(enc(x, padding_mask=pad)), np.asarray(enc(x, mask=pad)), atol=1e-6
    )
    out, scores = enc(x, padding_mask=pad, return_attention_scores=True)
    assert scores.shape == (2, 2, 5, 5)
    np.testing.assert_allclose(np.asarray(scores)[1, :, :3, 3:], 0.0, atol=1e-6)
    dec = TransformerDecoderBlock(2, 6, attention=attention)
    old = np.asarray(dec(x, memory=memory, mask=pad, memory_mask=memory_pad))
    new = dec(x, memory, decoder_padding_mask=pad, encoder_padding_mask=memory_pad)
    np.testing.assert_allclose(np.asarray(new), old, atol=1e-6)
    # An attention mask hiding the same keys is the same as the padding mask.
    allowed = np.broadcast_to(memory_pad[:, None, :], (2, 5, 4))
    np.testing.assert_allclose(
        np.asarray(dec(x, memory, decoder_padding_mask=pad, encoder_attention_mask=allowed)),
        old,
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="`encoder_sequence`"):
        dec(x, memory, memory=memory)


def test_decoder_use_causal_mask_false_with_absolute_attention():
    x = _x()
    moved = x.copy()
    moved[:, 3:] += 4.0 * _x((2, 2, 8), seed=9)
    dec = TransformerDecoderBlock(2, 6, attention="absolute")
    a = np.asarray(dec(x, use_causal_mask=False))[:, :3]
    assert not np.allclose(a, np.asarray(dec(moved, use_causal_mask=False))[:, :3], atol=1e-3)


@pytest.mark.parametrize("attention", ["relative", "absolute"])
def test_keras_masked_input_is_consumed_without_mask_warning(attention):
    tokens = np.array([[3, 4, 5, 6], [3, 4, 0, 0]])
    embedded = keras.layers.Embedding(10, 8, mask_zero=True)(tokens)
    enc = TransformerEncoderBlock(2, 6, attention=attention)
    dec = TransformerDecoderBlock(2, 6, attention=attention)
    cross = TransformerDecoderBlock(2, 6, attention=attention)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoded = np.asarray(enc(embedded))
        decoded = np.asarray(dec(embedded))
        cross(embedded, embedded)
    assert not [w for w in caught if "mask" in str(w.message)], [str(w.message) for w in caught]
    e, pad = np.asarray(embedded), tokens != 0
    np.testing.assert_allclose(encoded, np.asarray(enc(e, padding_mask=pad)), atol=1e-6)
    np.testing.assert_allclose(decoded, np.asarray(dec(e, decoder_padding_mask=pad)), atol=1e-6)
    assert not np.allclose(encoded[1, :2], np.asarray(enc(e))[1, :2], atol=1e-4)


def test_symbolic_none_dims_and_xla():
    inputs, memory = keras.Input((None, 8)), keras.Input((None, 6))
    hidden = TransformerEncoderBlock(2, 6, max_relative_position=3)(inputs)
    hidden = TransformerDecoderBlock(2, 6, max_relative_position=3)(hidden, memory)
    outputs = TransformerDecoderBlock(2, 6, attention="absolute")(hidden)
    model = keras.Model([inputs, memory], outputs)
    model.compile(loss="mse", jit_compile=True)
    x, m = _x((2, 5, 8)), _x((2, 7, 6))
    model.fit([x, m], x, verbose=0)
    got = model.predict([x, m], verbose=0)
    assert got.shape == (2, 5, 8) and np.all(np.isfinite(got))
