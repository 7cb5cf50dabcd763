"""GAN losses against their closed forms, and the gradient penalties against finite differences."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.debugging import gradient_check
from keras_dlss.losses import (
    GAN_LOSSES,
    DiscriminatorLoss,
    GeneratorLoss,
    discriminator_loss,
    generator_loss,
)
from keras_dlss.ops import r1_penalty, wgan_gradient_penalty

RNG = np.random.default_rng(0)
REAL = RNG.normal(size=(6, 1)).astype("float32") * 3
FAKE = RNG.normal(size=(6, 1)).astype("float32") * 3


def _log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


# Closed forms written from the papers' definitions with D = sigmoid(logit).
CLOSED_FORMS = {
    "minimax": (
        lambda d, f: -np.mean(_log_sigmoid(d)) - np.mean(np.log1p(-1 / (1 + np.exp(-f)))),
        lambda f: np.mean(np.log1p(-1 / (1 + np.exp(-f)))),
    ),
    "non_saturating": (
        lambda d, f: -np.mean(_log_sigmoid(d)) - np.mean(_log_sigmoid(-f)),
        lambda f: -np.mean(_log_sigmoid(f)),
    ),
    "hinge": (
        lambda d, f: np.mean(np.maximum(0, 1 - d)) + np.mean(np.maximum(0, 1 + f)),
        lambda f: -np.mean(f),
    ),
    "least_squares": (
        lambda d, f: 0.5 * np.mean((d - 1) ** 2) + 0.5 * np.mean(f**2),
        lambda f: 0.5 * np.mean((f - 1) ** 2),
    ),
    "wasserstein": (lambda d, f: np.mean(f) - np.mean(d), lambda f: -np.mean(f)),
}


@pytest.mark.parametrize("kind", GAN_LOSSES)
def test_losses_match_closed_forms(kind):
    d_ref, g_ref = CLOSED_FORMS[kind]
    d, f = REAL.astype("float64"), FAKE.astype("float64")
    np.testing.assert_allclose(float(discriminator_loss(REAL, FAKE, kind)), d_ref(d, f), rtol=1e-5)
    np.testing.assert_allclose(float(generator_loss(FAKE, kind)), g_ref(f), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", GAN_LOSSES)
def test_loss_classes_match_functions_and_round_trip(kind):
    labels = np.concatenate([np.ones((6, 1)), np.zeros((6, 1))]).astype("float32")
    logits = np.concatenate([REAL, FAKE])
    loss = DiscriminatorLoss(kind)
    # Equal halves: the per-example mean is half the sum of the two means.
    np.testing.assert_allclose(
        float(loss(labels, logits)), 0.5 * float(discriminator_loss(REAL, FAKE, kind)), rtol=1e-5
    )
    g = GeneratorLoss(kind)
    np.testing.assert_allclose(
        float(g(np.ones_like(FAKE), FAKE)), float(generator_loss(FAKE, kind)), rtol=1e-5, atol=1e-6
    )
    for obj in (loss, g):
        clone = keras.losses.deserialize(keras.losses.serialize(obj))
        assert type(clone) is type(obj) and clone.kind == kind


def test_non_saturating_loss_is_finite_for_extreme_logits():
    value = discriminator_loss(np.array([[-200.0]]), np.array([[200.0]]), "non_saturating")
    np.testing.assert_allclose(float(value), 400.0, rtol=1e-6)


# A one-hidden-layer critic D(x) = v . tanh(W x + b), with its input gradient in closed form.
W = RNG.normal(size=(3, 5))
B = RNG.normal(size=(5,))
V = RNG.normal(size=(5,))
X = RNG.normal(size=(4, 3))
Y = RNG.normal(size=(4, 3))


def _critic(w):
    def fn(x):
        return ops.sum(ops.tanh(ops.matmul(x, w) + B) * V, axis=1, keepdims=True)

    return fn


def _numpy_input_gradient(x, w=W):
    h = np.tanh(x @ w + B)
    return ((1 - h**2) * V) @ w.T


def test_r1_penalty_matches_closed_form_input_gradient():
    expected = np.mean(np.sum(_numpy_input_gradient(X) ** 2, axis=1))
    value = r1_penalty(_critic(ops.convert_to_tensor(W)), ops.convert_to_tensor(X))
    np.testing.assert_allclose(float(value), expected, rtol=1e-6)


def test_wgan_penalty_matches_finite_differences():
    alpha = np.array([0.0, 0.3, 0.7, 1.0])
    mixed = alpha[:, None] * X + (1 - alpha[:, None]) * Y

    def d(x):
        return float(np.sum(np.tanh(x @ W + B) * V))

    eps = 1e-6
    grads = np.zeros_like(mixed)
    for i in np.ndindex(mixed.shape):  # central differences of D itself
        step = np.zeros_like(mixed)
        step[i] = eps
        grads[i] = (d(mixed + step) - d(mixed - step)) / (2 * eps)
    expected = np.mean((np.linalg.norm(grads, axis=1) - 1.0) ** 2)
    value = wgan_gradient_penalty(
        _critic(ops.convert_to_tensor(W)), ops.convert_to_tensor(X), ops.convert_to_tensor(Y), alpha
    )
    np.testing.assert_allclose(float(value), expected, rtol=1e-6)


@pytest.mark.parametrize("penalty", ["r1", "wgan"])
def test_penalty_gradient_wrt_weights_matches_finite_differences(penalty):
    """Double backpropagation: d(penalty)/dW, checked by our float64 checker."""
    alpha = np.array([0.2, 0.4, 0.6, 0.8])

    def fn(w):
        if penalty == "r1":
            return r1_penalty(_critic(w), ops.convert_to_tensor(X, "float64"))
        return wgan_gradient_penalty(
            _critic(w),
            ops.convert_to_tensor(X, "float64"),
            ops.convert_to_tensor(Y, "float64"),
            alpha,
        )

    report = gradient_check(fn, W)  # raises on a mismatch
    assert report.passed, str(report)
