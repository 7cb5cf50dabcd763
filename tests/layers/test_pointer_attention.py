"""PointerAttention: valid distributions over input positions, masks, numpy reference."""

import keras
import numpy as np
import pytest

from keras_dlss.layers import PointerAttention
from keras_dlss.testing import run_layer_test

_np = keras.ops.convert_to_numpy
RNG = np.random.default_rng(0)
QUERY = RNG.normal(size=(3, 4, 5)).astype("float32")
MEMORY = RNG.normal(size=(3, 6, 7)).astype("float32")
MASK = np.array([[1] * 6, [1] * 3 + [0] * 3, [1] + [0] * 5], "int32")


def test_conformance():
    run_layer_test(
        PointerAttention,
        {"units": 8},  # log-probabilities of masked slots are -1e9: no finite differences
        QUERY,
        call_kwargs={"memory": MEMORY, "memory_mask": MASK},
        expected_output_shape=(3, 4, 6),
        check_masking=False,  # the mask is the explicit `memory_mask`, tested by effect below
    )


def _reference(layer, query, memory, mask):
    """Vinyals et al. 2015, eq. 3, one query step and one position at a time."""
    w_q, w_m, v = (
        _np(w).astype("float64")
        for w in (layer.query_kernel, layer.memory_kernel, layer.score_vector)
    )
    out = np.zeros(query.shape[:-1] + (memory.shape[1],))
    for b in range(query.shape[0]):
        for t in range(query.shape[1]):
            u = np.array([v @ np.tanh(m @ w_m + query[b, t] @ w_q) for m in memory[b]])
            keep = mask[b] if mask.ndim == 2 else mask[b, t]
            e = np.where(keep > 0, np.exp(u - u[keep > 0].max()), 0.0)
            out[b, t] = e / e.sum()
    return out


def test_matches_reference_and_is_a_distribution():
    layer = PointerAttention(8)
    probs = _np(layer(QUERY, MEMORY, MASK))
    np.testing.assert_allclose(probs, _reference(layer, QUERY, MEMORY, MASK), atol=1e-5)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-6)
    assert (probs >= 0).all()
    assert (probs[MASK[:, None, :].repeat(4, 1) == 0] == 0.0).all()  # exactly zero
    # One decoder step ([B, d]) is the same row as in the sequence form.
    np.testing.assert_allclose(_np(layer(QUERY[:, 2], MEMORY, MASK)), probs[:, 2], atol=1e-6)


def test_per_step_mask_and_output_modes():
    step_mask = np.ones((3, 4, 6), "int32")
    step_mask[:, 1:, 0] = 0  # position 0 "already pointed at" after the first step
    step_mask[2, 3] = 0  # a fully masked row
    layer = PointerAttention(8)
    probs = _np(layer(QUERY, MEMORY, step_mask))
    expected = _reference(layer, QUERY[:, :3], MEMORY, step_mask[:, :3])
    np.testing.assert_allclose(probs[:, :3], expected, atol=1e-5)
    assert (probs[:, 1:, 0] == 0).all() and (probs[2, 3] == 0).all()
    log_layer = PointerAttention.from_config(
        {**layer.get_config(), "output_mode": "log_probabilities"}
    )
    logit_layer = PointerAttention.from_config({**layer.get_config(), "output_mode": "logits"})
    for other in (log_layer, logit_layer):
        other(QUERY, MEMORY)
        other.set_weights(layer.get_weights())
    log_probs = _np(log_layer(QUERY, MEMORY, MASK))
    keep = np.broadcast_to(MASK[:, None, :], log_probs.shape) > 0
    np.testing.assert_allclose(
        np.exp(log_probs[keep]), _np(layer(QUERY, MEMORY, MASK))[keep], atol=1e-6
    )
    logits = _np(logit_layer(QUERY, MEMORY, MASK))
    assert np.isfinite(logits).all() and (logits[~keep] == -1e9).all()


def test_padding_changes_nothing():
    layer = PointerAttention(8)
    short = _np(layer(QUERY, MEMORY[:, :3], MASK[:, :3]))
    noisy = MEMORY.copy()
    noisy[:, 3:] += 5 * RNG.normal(size=noisy[:, 3:].shape)
    padded = _np(layer(QUERY, noisy, np.concatenate([MASK[:, :3], np.zeros((3, 3))], 1)))
    np.testing.assert_allclose(padded[..., :3], short, atol=1e-6)
    assert (padded[..., 3:] == 0).all()


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"query": QUERY[0, 0]}, "query"),
        ({"memory": MEMORY[0]}, "memory"),
        ({"memory_mask": MASK[:, :4]}, "memory_mask"),
        ({"memory": MEMORY[:2]}, "memory"),
    ],
)
def test_bad_input_names_the_argument(kwargs, argument):
    args = {"query": QUERY, "memory": MEMORY, "memory_mask": MASK, **kwargs}
    with pytest.raises(ValueError, match=f"`{argument}`.*Received"):
        PointerAttention(4)(args["query"], args["memory"], args["memory_mask"])


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="`units`.*Received"):
        PointerAttention(0)
    with pytest.raises(ValueError, match="`output_mode`.*Received"):
        PointerAttention(4, output_mode="softmax")
