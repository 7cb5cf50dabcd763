"""Coverage vectors and coverage loss (See et al. 2017, eq. 10 and 12) vs NumPy references."""

import keras
import numpy as np

from keras_dlss.debugging import gradient_check
from keras_dlss.ops import coverage_loss, coverage_vectors

_np = keras.ops.convert_to_numpy
RNG = np.random.default_rng(0)
B, T, S = 2, 4, 5
ATTENTION = RNG.dirichlet(np.ones(S), size=(B, T)).astype("float32")
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], "int32")


def _reference(attention, mask=None):
    """Step by step, as the decoder accumulates it: c_0 = 0, c_{t+1} = c_t + a_t."""
    a = attention.astype("float64") * (1 if mask is None else mask[:, None, :])
    coverage, loss = np.zeros_like(a), np.zeros(a.shape[:2])
    for b in range(a.shape[0]):
        c = np.zeros(a.shape[-1])
        for t in range(a.shape[1]):
            coverage[b, t] = c
            loss[b, t] = sum(min(a[b, t, i], c[i]) for i in range(a.shape[-1]))
            c = c + a[b, t]
    return coverage, loss


def test_match_the_step_by_step_reference():
    coverage, loss = _reference(ATTENTION)
    np.testing.assert_allclose(_np(coverage_vectors(ATTENTION)), coverage, atol=1e-6)
    np.testing.assert_allclose(_np(coverage_loss(ATTENTION)), loss, atol=1e-6)
    assert np.all(_np(coverage_loss(ATTENTION))[:, 0] == 0)  # nothing covered at step 0
    assert np.all(_np(coverage_loss(ATTENTION)) <= 1 + 1e-6)


def test_padding_never_gains_coverage():
    leaky = ATTENTION + 0.1  # weight on padding must not count
    coverage, loss = _reference(leaky, MASK)
    np.testing.assert_allclose(_np(coverage_vectors(leaky, MASK)), coverage, atol=1e-6)
    np.testing.assert_allclose(_np(coverage_loss(leaky, MASK)), loss, atol=1e-6)
    assert np.all(_np(coverage_vectors(leaky, MASK))[1, :, 3:] == 0)


def test_repetition_costs_and_moving_on_is_free():
    again = np.tile(np.eye(S, dtype="float32")[:1], (T, 1))[None]  # position 0 every step
    moving = np.eye(S, dtype="float32")[None, :T]
    np.testing.assert_allclose(_np(coverage_loss(again))[0], [0, 1, 1, 1])
    np.testing.assert_allclose(_np(coverage_loss(moving))[0], 0)


def test_float64_gradients():
    # Ties a == c are measure-zero for random attention; skip_kinks guards the rest.
    gradient_check(
        lambda a: coverage_loss(a, MASK), (ATTENTION.astype("float64"),), skip_kinks=True
    )
