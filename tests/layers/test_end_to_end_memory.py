"""EndToEndMemory against a numpy reference of the paper's hops; masks by effect; LinearStart."""

import keras
import numpy as np
import pytest

from keras_dlss.layers import EndToEndMemory, LinearStart
from keras_dlss.testing import run_layer_test

_np = keras.ops.convert_to_numpy
RNG = np.random.default_rng(0)
V, M, S, D = 12, 5, 4, 6


def _ids(*shape, low=0):
    return RNG.integers(low, V, size=shape).astype("int32")


def _inputs():
    stories = _ids(2, M, S)
    stories[0, 3:] = 0  # two empty memories
    stories[1, :, 3] = 0  # a padded word position
    return stories, _ids(2, S, low=1)


def _pe(words, d):
    """Eq. of Sec. 4.1, written per word with 1-based j and k."""
    real = [w for w in words if w != 0]
    big_j = max(len(real), 1)
    out, j = np.zeros((len(words), d)), 0
    for pos, w in enumerate(words):
        if w == 0:
            continue
        j += 1
        for k in range(1, d + 1):
            out[pos, k - 1] = (1 - j / big_j) - (k / d) * (1 - 2 * j / big_j)
    return out


def _embed(words, table, pe):
    weights = _pe(words, table.shape[1]) if pe else (np.array(words) != 0)[:, None] * 1.0
    return (table[np.array(words)] * weights).sum(0)


def _reference(layer, stories, question, pe=True):
    e = [_np(w) for w in layer.word_embeddings]
    t = [_np(w) for w in layer.temporal_embeddings]
    out = []
    for story, q in zip(stories, question):
        layerwise = layer.weight_tying == "layerwise"
        u = _embed(q, _np(layer.question_embedding) if layerwise else e[0], pe)
        valid = [i for i in range(len(story)) if np.any(story[i] != 0)]
        for hop in range(layer.hops):
            ia, ic = (0, 1) if layerwise else (hop, hop + 1)
            m = np.array([_embed(story[i], e[ia], pe) + t[ia][i] for i in valid])
            c = np.array([_embed(story[i], e[ic], pe) + t[ic][i] for i in valid])
            logits = m @ u
            p = np.exp(logits - logits.max())
            p /= p.sum()
            o = p @ c
            u = u @ _np(layer.controller) + o if layerwise else u + o
        out.append(u)
    return np.array(out)


@pytest.mark.parametrize("tying", ["adjacent", "layerwise"])
def test_hops_match_numpy_reference(tying):
    stories, question = _inputs()
    layer = EndToEndMemory(V, D, hops=3, weight_tying=tying)
    got = _np(layer([stories, question]))
    np.testing.assert_allclose(got, _reference(layer, stories, question), rtol=1e-4, atol=1e-5)
    attention = _np(layer.memory_attention([stories, question]))
    assert attention.shape == (2, 3, M)
    np.testing.assert_allclose(attention.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(attention[0, :, 3:], 0.0)  # empty memories get nothing


def test_bag_of_words_without_position_encoding():
    stories, question = _inputs()
    layer = EndToEndMemory(V, D, hops=2, position_encoding=False)
    got = _np(layer([stories, question]))
    np.testing.assert_allclose(got, _reference(layer, stories, question, pe=False), rtol=1e-4)


def test_padding_words_and_memories_change_nothing():
    stories, question = _inputs()
    layer = EndToEndMemory(V, D, hops=3, temporal_encoding=False)
    base = _np(layer([stories, question]))
    # Longer sentences (an extra padded word) and more empty memory slots.
    wider = np.pad(stories, ((0, 0), (0, 2), (0, 3)))
    np.testing.assert_allclose(
        _np(layer([wider, np.pad(question, ((0, 0), (0, 3)))])), base, rtol=1e-5, atol=1e-6
    )
    # A different embedding for the padding id 0 is never read.
    for table in layer.word_embeddings:
        value = _np(table)
        value[0] = 100.0
        table.assign(value)
    np.testing.assert_allclose(_np(layer([stories, question])), base, rtol=1e-5, atol=1e-6)


def test_linear_start_removes_the_softmax_until_the_callback_fires():
    stories, question = _inputs()
    layer = EndToEndMemory(V, D, hops=1, linear_start=True)
    linear = _np(layer.memory_attention([stories, question]))
    assert not np.allclose(linear[1].sum(-1), 1.0)  # raw scores, not a distribution
    story_in = keras.Input((M, S), dtype="int32")
    question_in = keras.Input((S,), dtype="int32")
    model = keras.Model([story_in, question_in], layer([story_in, question_in]))
    callback = LinearStart(max_epochs=3)
    callback.set_model(model)
    for epoch, loss in enumerate([1.0, 0.5]):
        callback.on_epoch_end(epoch, {"val_loss": loss})
    assert callback.switched_at is None
    callback.on_epoch_end(2, {"val_loss": 0.6})  # stalled
    assert callback.switched_at == 3
    soft = _np(layer.memory_attention([stories, question]))
    np.testing.assert_allclose(soft.sum(-1), 1.0, rtol=1e-5)


def test_conformance():
    stories, question = _inputs()
    report = run_layer_test(
        EndToEndMemory,
        {"vocabulary_size": V, "embedding_dim": 4, "hops": 2, "weight_tying": "layerwise"},
        [stories, question],
        expected_output_shape=(2, 4),
    )
    assert "failed" not in str(report)


def test_bad_inputs():
    with pytest.raises(ValueError, match="`weight_tying`"):
        EndToEndMemory(V, weight_tying="none")
    with pytest.raises(ValueError, match="`inputs`.*Received"):
        EndToEndMemory(V)([_ids(2, S), _ids(2, S)])
