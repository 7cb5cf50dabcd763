import keras
import numpy as np
import pytest

from keras_dlss.debugging import gradient_check
from keras_dlss.layers import BahdanauAttention
from keras_dlss.testing import run_layer_test

RNG = np.random.default_rng(0)
QUERY = RNG.normal(size=(3, 4)).astype("float32")
MEMORY = RNG.normal(size=(3, 6, 5)).astype("float32")
MASK = np.array([[1] * 6, [1] * 3 + [0] * 3, [1] + [0] * 5], "int32")


@pytest.mark.parametrize("normalize", [False, True])
def test_conformance(normalize):
    run_layer_test(
        BahdanauAttention,
        {"units": 7, "normalize": normalize},
        QUERY,
        call_kwargs={"memory": MEMORY, "memory_mask": MASK},
        expected_output_shape=[(3, 5), (3, 6)],
        check_masking=False,  # the mask is the explicit `memory_mask`, tested below
    )


def test_matches_formula():
    layer = BahdanauAttention(7)
    context, alignments = layer(QUERY, MEMORY, MASK)
    wq, wm, v = (
        np.asarray(w) for w in (layer.query_kernel, layer.memory_kernel, layer.score_vector)
    )
    scores = np.tanh(MEMORY @ wm + (QUERY @ wq)[:, None, :]) @ v
    scores = np.where(MASK == 1, scores, -np.inf)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(alignments, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        context, np.einsum("bt,btd->bd", expected, MEMORY), rtol=1e-5, atol=1e-6
    )


def test_normalized_score_is_scale_invariant_in_v():
    layer = BahdanauAttention(7, normalize=True)
    _, before = layer(QUERY, MEMORY)
    layer.score_vector.assign(layer.score_vector * 10.0)
    _, after = layer(QUERY, MEMORY)
    np.testing.assert_allclose(before, after, rtol=1e-5, atol=1e-6)


def test_mask_gives_exact_zeros_and_renormalizes():
    _, alignments = BahdanauAttention(7)(QUERY, MEMORY, MASK)
    alignments = keras.ops.convert_to_numpy(alignments)
    assert np.all(alignments[MASK == 0] == 0.0)
    np.testing.assert_allclose(alignments.sum(-1), 1.0, rtol=1e-6)
    # Effect of the mask: changing masked memory changes nothing.
    layer = BahdanauAttention(7)
    before = layer(QUERY, MEMORY, MASK)
    noisy = MEMORY + 100.0 * (MASK == 0)[..., None]
    after = layer(QUERY, noisy, MASK)
    for b, a in zip(before, after):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)


def test_fully_masked_row_is_zero_not_nan():
    context, alignments = BahdanauAttention(3)(QUERY, MEMORY, np.zeros((3, 6)))
    assert np.all(np.asarray(alignments) == 0.0) and np.all(np.asarray(context) == 0.0)


def test_gradients():
    gradient_check(
        BahdanauAttention(5, normalize=True), (QUERY, MEMORY), call_kwargs={"memory_mask": MASK}
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match="units"):
        BahdanauAttention(0)
    with pytest.raises(ValueError, match="memory"):
        BahdanauAttention(3)(QUERY, MEMORY[:, 0])


def test_keras_list_call_convention():
    layer = BahdanauAttention(7)
    want = [np.asarray(t) for t in layer(QUERY, MEMORY, MASK)]
    got = layer([QUERY, MEMORY], mask=[None, MASK])
    for w, g in zip(want, got):
        np.testing.assert_allclose(np.asarray(g), w, atol=1e-6)


def test_symbolic_none_dims_and_xla():
    query, memory = keras.Input((4,)), keras.Input((None, 5))
    mask = keras.Input((None,), dtype="bool")
    model = keras.Model([query, memory, mask], BahdanauAttention(7)(query, memory, mask))
    model.compile(loss="mse", jit_compile=True)
    model.fit([QUERY, MEMORY, MASK.astype(bool)], [MEMORY[:, 0], MASK * 0.0], verbose=0)
    context, alignments = model.predict([QUERY, MEMORY, MASK.astype(bool)], verbose=0)
    assert context.shape == (3, 5) and alignments.shape == (3, 6)
