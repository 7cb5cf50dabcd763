"""Pointer-generator final distribution (See et al. 2017, eq. 9) and extended vocabulary."""

import keras
import numpy as np
import pytest

from keras_dlss.debugging import gradient_check
from keras_dlss.ops import extend_vocabulary, extended_ids_to_tokens, final_distribution

_np = keras.ops.convert_to_numpy
RNG = np.random.default_rng(0)
B, T, S, V, OOVS = 3, 2, 5, 6, 3
E = V + OOVS


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


P_VOCAB = _softmax(RNG.normal(size=(B, T, V))).astype("float32")
ATTENTION = _softmax(RNG.normal(size=(B, T, S))).astype("float32")
P_GEN = RNG.uniform(0.1, 0.9, size=(B, T, 1)).astype("float32")
# Repeated ids (6 twice in row 0, 2 three times in row 1) must accumulate.
SOURCE_IDS = np.array([[6, 3, 6, 7, 0], [2, 2, 8, 2, 4], [1, 6, 7, 8, 5]], "int32")
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], "int32")


def _brute_force(p_vocab, attention, ids, p_gen, mask=None):
    out = np.zeros(p_vocab.shape[:-1] + (E,))
    for b in range(p_vocab.shape[0]):
        for t in range(p_vocab.shape[1]):
            a = attention[b, t].astype("float64")
            if mask is not None:
                a = a * mask[b]
                a = a / a.sum()
            out[b, t, :V] = p_gen[b, t, 0] * p_vocab[b, t]
            for i in range(S):
                out[b, t, ids[b, i]] += (1 - p_gen[b, t, 0]) * a[i]
    return out


def test_matches_brute_force_and_sums_to_one():
    probs = np.exp(_np(final_distribution(P_VOCAB, ATTENTION, SOURCE_IDS, P_GEN, E)))
    np.testing.assert_allclose(
        probs, _brute_force(P_VOCAB, ATTENTION, SOURCE_IDS, P_GEN), atol=1e-6
    )
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    # One step ([B, V], [B, S], p_gen [B]) is the same row as the sequence form.
    step = final_distribution(P_VOCAB[:, 1], ATTENTION[:, 1], SOURCE_IDS, P_GEN[:, 1, 0], E)
    np.testing.assert_allclose(np.exp(_np(step)), probs[:, 1], atol=1e-6)


def test_p_gen_one_is_the_vocabulary_and_zero_is_pure_copy():
    ones = np.ones_like(P_GEN)
    probs = np.exp(_np(final_distribution(P_VOCAB, ATTENTION, SOURCE_IDS, ones, E)))
    np.testing.assert_allclose(probs[..., :V], P_VOCAB, atol=1e-6)
    assert probs[..., V:].max() < 1e-20
    copy = np.exp(_np(final_distribution(P_VOCAB, ATTENTION, SOURCE_IDS, 0 * ones, E)))
    np.testing.assert_allclose(copy[0, :, 6], ATTENTION[0, :, 0] + ATTENTION[0, :, 2], atol=1e-6)


def test_masked_positions_get_no_copy_mass():
    probs = np.exp(_np(final_distribution(P_VOCAB, ATTENTION, SOURCE_IDS, P_GEN, E, mask=MASK)))
    ref = _brute_force(P_VOCAB, ATTENTION, SOURCE_IDS, P_GEN, MASK)
    np.testing.assert_allclose(probs, ref, atol=1e-6)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    # Row 1: id 4 sits only at a masked position, so it keeps just its generation mass.
    np.testing.assert_allclose(probs[1, :, 4], P_GEN[1, :, 0] * P_VOCAB[1, :, 4], atol=1e-7)


def test_float64_gradients():
    ids, mask = SOURCE_IDS, MASK

    def fn(p_vocab, attention, p_gen):
        return final_distribution(p_vocab, attention, ids, p_gen, E, mask=mask)

    inputs = tuple(x.astype("float64") for x in (P_VOCAB, ATTENTION, P_GEN))
    gradient_check(fn, inputs)


def test_extend_vocabulary_and_back():
    vocab = ["<pad>", "<unk>", "<start>", "<end>", "meet", "at", "call"]
    sources = [["meet", "ozil", "at", "9", "ozil"], ["meet", "a", "b", "c"]]
    targets = [["call", "ozil", "9", "zz", "<end>"], ["call", "c", "<end>"]]
    batch = extend_vocabulary(sources, vocab, max_oovs=2, target_tokens=targets)
    assert batch["oovs"] == [["ozil", "9"], ["a", "b"]]
    np.testing.assert_array_equal(batch["source"], [[4, 1, 5, 1, 1], [4, 1, 1, 1, 0]])
    # "c" is past max_oovs: <unk> in both source and target; "zz" is not in the source.
    np.testing.assert_array_equal(batch["source_extended"], [[4, 7, 5, 8, 7], [4, 7, 8, 1, 0]])
    np.testing.assert_array_equal(batch["target"], [[6, 7, 8, 1, 3], [6, 1, 3, 0, 0]])
    words = extended_ids_to_tokens(batch["target"], vocab, batch["oovs"], end_id=3)
    assert words == [["call", "ozil", "9", "<unk>"], ["call", "<unk>"]]
    beams = extended_ids_to_tokens(batch["target"][:, None], vocab, batch["oovs"], end_id=3)
    assert beams[0][0] == words[0]


@pytest.mark.parametrize(
    "kwargs, name",
    [({"extended_size": 5}, "extended_size"), ({"p_gen": np.ones((B, T, 2))}, "p_gen")],
)
def test_bad_arguments(kwargs, name):
    args = {"p_gen": P_GEN, "extended_size": E, **kwargs}
    with pytest.raises(ValueError, match=f"`{name}`.*Received"):
        final_distribution(P_VOCAB, ATTENTION, SOURCE_IDS, args["p_gen"], args["extended_size"])
