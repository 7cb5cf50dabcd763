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


def _pe(words, d, formula="paper"):
    """Eq. of Sec. 4.1 (or the released code's), written per word with 1-based j and k."""
    real = [w for w in words if w != 0]
    big_j = max(len(real), 1)
    out, j = np.zeros((len(words), d)), 0
    for pos, w in enumerate(words):
        if w == 0:
            continue
        j += 1
        for k in range(1, d + 1):
            if formula == "released_code":  # MemN2N-babi-matlab, build_model.m
                out[pos, k - 1] = 1 + 4 * (k - (d + 1) / 2) * (j - (big_j + 1) / 2) / (d * big_j)
            else:
                out[pos, k - 1] = (1 - j / big_j) - (k / d) * (1 - 2 * j / big_j)
    return out


def _embed(words, table, pe):
    if pe:
        weights = _pe(words, table.shape[1], "paper" if pe is True else pe)
    else:
        weights = (np.array(words) != 0)[:, None] * 1.0
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


def test_released_code_position_encoding_matches_its_formula():
    stories, question = _inputs()
    layer = EndToEndMemory(V, D, hops=2, position_encoding="released_code")
    got = _np(layer([stories, question]))
    want = _reference(layer, stories, question, pe="released_code")
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # It is a different weighting from the paper's, not a renamed one.
    paper = _reference(layer, stories, question, pe=True)
    assert np.abs(got - paper).max() > 1e-2


@pytest.mark.parametrize("formula", [True, "released_code"])
def test_padding_words_and_memories_change_nothing(formula):
    stories, question = _inputs()
    layer = EndToEndMemory(V, D, hops=3, temporal_encoding=False, position_encoding=formula)
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


@pytest.mark.parametrize(
    "options, width",
    [
        ({"weight_tying": "layerwise", "position_encoding": "released_code"}, 4),
        ({"tied_answer": True, "random_noise": 0.1}, V),
    ],
)
def test_conformance(options, width):
    stories, question = _inputs()
    report = run_layer_test(
        EndToEndMemory,
        {"vocabulary_size": V, "embedding_dim": 4, "hops": 2, **options},
        [stories, question],
        expected_output_shape=(2, width),
    )
    assert "failed" not in str(report)


def test_bad_inputs():
    with pytest.raises(ValueError, match="`weight_tying`"):
        EndToEndMemory(V, weight_tying="none")
    with pytest.raises(ValueError, match="`position_encoding`.*Received: position_encoding='code'"):
        EndToEndMemory(V, position_encoding="code")
    with pytest.raises(ValueError, match="`inputs`.*Received"):
        EndToEndMemory(V)([_ids(2, S), _ids(2, S)])


def test_random_noise_inserts_empty_memories_in_order():
    from keras_dlss.layers.end_to_end_memory import _insert_empty_memories

    stories = np.zeros((2000, 20, 2), "int32")
    stories[:, :10, 0] = np.arange(1, 11)  # ten statements, slot 0 the latest
    moved = _np(_insert_empty_memories(stories, 0.1, keras.random.SeedGenerator(0)))
    assert np.all(moved[:, :, 1] == 0)
    moved = moved[..., 0]
    for row in moved[:50]:  # at most 10 inserted before the oldest: none falls off the end
        np.testing.assert_array_equal(row[row != 0], np.arange(1, 11))
    # Each statement is pushed back by Binomial(i + 1, rate) empty memories.
    oldest = np.argmax(moved == 10, axis=1)
    assert abs(oldest.mean() - (9 + 10 * 0.1)) < 0.05


def test_random_noise_only_in_training_and_only_through_the_temporal_encoding():
    stories, question = _inputs()
    stories[:, 2:] = 0  # room for the inserted memories: none is dropped
    for te, changes in ((False, False), (True, True)):
        layer = EndToEndMemory(V, D, hops=2, temporal_encoding=te, random_noise=0.6, seed=1)
        base = _np(layer([stories, question]))
        trained = _np(layer([stories, question], training=True))
        np.testing.assert_allclose(_np(layer([stories, question], training=False)), base)
        assert np.allclose(trained, base, atol=1e-6) != changes


def test_tied_answer_is_the_last_output_embedding():
    stories, question = _inputs()
    tied = EndToEndMemory(V, D, hops=2, tied_answer=True)
    logits = _np(tied([stories, question]))
    state = EndToEndMemory(V, D, hops=2)
    state([stories, question])
    state.set_weights(tied.get_weights())
    want = _np(state([stories, question])) @ _np(tied.word_embeddings[2]).T
    np.testing.assert_allclose(logits, want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="`tied_answer`"):
        EndToEndMemory(V, weight_tying="layerwise", tied_answer=True)
    with pytest.raises(ValueError, match="`random_noise`"):
        EndToEndMemory(V, random_noise=1.0)


def test_memn2n_with_the_paper_options_round_trips(tmp_path):
    from keras_dlss.applications import MemN2N

    stories, question = _inputs()
    model = MemN2N(V, M, S, embedding_dim=D, hops=2, random_noise=0.1, tied_answer=True)
    assert model.get_layer("answer").count_params() == 0
    inputs = {"story": stories, "question": question}
    path = str(tmp_path / "memn2n.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_np(loaded(inputs)), _np(model(inputs)), rtol=1e-6)
    np.testing.assert_allclose(_np(model(inputs)).sum(-1), 1.0, rtol=1e-5)


def test_linear_start_learning_rate_until_the_switch():
    stories, question = _inputs()
    story_in = keras.Input((M, S), dtype="int32")
    question_in = keras.Input((S,), dtype="int32")
    layer = EndToEndMemory(V, D, hops=1, linear_start=True)
    model = keras.Model([story_in, question_in], layer([story_in, question_in]))
    model.compile(keras.optimizers.SGD(0.01), "mse")
    callback = LinearStart(max_epochs=2, learning_rate=0.005)
    callback.set_model(model)
    callback.on_train_begin()
    np.testing.assert_allclose(_np(model.optimizer.learning_rate), 0.005)
    callback.on_epoch_end(0, {"val_loss": 1.0})
    np.testing.assert_allclose(_np(model.optimizer.learning_rate), 0.005)
    callback.on_epoch_end(1, {"val_loss": 0.5})  # max_epochs: the softmax goes back in
    np.testing.assert_allclose(_np(model.optimizer.learning_rate), 0.01)
    assert float(_np(layer.softmax_gate)) == 1.0
    with pytest.raises(ValueError, match="`learning_rate`"):
        LinearStart(learning_rate=0.0)
