import numpy as np
import pytest

from keras_dlss.layers import LuongAttention
from keras_dlss.testing import run_layer_test

RNG = np.random.default_rng(1)
QUERY = RNG.normal(size=(3, 5)).astype("float32")
MEMORY = RNG.normal(size=(3, 6, 5)).astype("float32")
MASK = np.array([[1] * 6, [1] * 2 + [0] * 4, [1] * 5 + [0]], "int32")


def _softmax_masked(scores):
    scores = np.where(MASK == 1, scores, -np.inf)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("score,scale", [("dot", False), ("general", True), ("concat", False)])
def test_conformance(score, scale):
    run_layer_test(
        LuongAttention,
        {"score": score, "scale": scale, "units": 4},
        QUERY,
        call_kwargs={"memory": MEMORY, "memory_mask": MASK},
        expected_output_shape=[(3, 5), (3, 6)],
        check_masking=False,  # the mask is the explicit `memory_mask`, tested below
    )


def test_scores_match_formulas():
    dot = LuongAttention("dot")
    _, a = dot(QUERY, MEMORY, MASK)
    np.testing.assert_allclose(
        a, _softmax_masked(np.einsum("btd,bd->bt", MEMORY, QUERY)), rtol=1e-5, atol=1e-6
    )

    general = LuongAttention("general", scale=True)
    general(QUERY, MEMORY, MASK)
    general.score_scale.assign(0.5)
    _, a = general(QUERY, MEMORY, MASK)
    w = np.asarray(general.memory_kernel)  # [memory_depth, query_depth]
    expected = 0.5 * np.einsum("btd,de,be->bt", MEMORY, w, QUERY)
    np.testing.assert_allclose(a, _softmax_masked(expected), rtol=1e-5, atol=1e-6)

    concat = LuongAttention("concat", units=3)
    _, a = concat(QUERY, MEMORY, MASK)
    wq, wm, v = (
        np.asarray(x) for x in (concat.query_kernel, concat.memory_kernel, concat.score_vector)
    )
    expected = np.tanh(MEMORY @ wm + (QUERY @ wq)[:, None]) @ v
    np.testing.assert_allclose(a, _softmax_masked(expected), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("score", ["dot", "general", "concat"])
def test_masked_positions_get_exactly_zero(score):
    context, alignments = LuongAttention(score)(QUERY, MEMORY, MASK)
    alignments = np.asarray(alignments)
    assert np.all(alignments[MASK == 0] == 0.0)
    np.testing.assert_allclose(alignments.sum(-1), 1.0, rtol=1e-6)
    layer = LuongAttention(score)
    before = np.asarray(layer(QUERY, MEMORY, MASK)[0])
    after = np.asarray(layer(QUERY, MEMORY - 50.0 * (MASK == 0)[..., None], MASK)[0])
    np.testing.assert_allclose(before, after, rtol=1e-6, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="score"):
        LuongAttention("cosine")
    with pytest.raises(ValueError, match="dot"):
        LuongAttention("dot")(QUERY[:, :3], MEMORY)
