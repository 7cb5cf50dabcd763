"""FID against scipy's sqrtm, mode coverage, and the birthday-paradox support estimate."""

import keras
import numpy as np
import pytest
import scipy.linalg

from keras_dlss.metrics import (
    FrechetDistance,
    birthday_paradox_support,
    feature_statistics,
    fid,
    frechet_distance,
    mode_coverage,
)

RNG = np.random.default_rng(0)


def _scipy_frechet(mu1, s1, mu2, s2):
    """The reference implementation's formula (Heusel et al.'s TTUR code), with scipy's sqrtm."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = covmean.real
    return np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


def _random_stats(d, n, shift=0.0):
    a = RNG.normal(size=(n, d)) @ RNG.normal(size=(d, d)) + shift
    return feature_statistics(a)


@pytest.mark.parametrize("d, n", [(1, 50), (5, 200), (16, 400)])
def test_frechet_distance_matches_scipy_sqrtm(d, n):
    s1, s2 = _random_stats(d, n), _random_stats(d, n, shift=0.5)
    np.testing.assert_allclose(frechet_distance(*s1, *s2), _scipy_frechet(*s1, *s2), rtol=1e-6)
    assert frechet_distance(*s1, *s1) < 1e-6


def test_frechet_distance_is_robust_for_singular_covariances():
    # Rank-deficient covariances (fewer samples than dimensions): still finite and >= 0.
    s1, s2 = _random_stats(20, 5), _random_stats(20, 5, shift=1.0)
    value = frechet_distance(*s1, *s2)
    assert np.isfinite(value) and value >= 0
    np.testing.assert_allclose(value, _scipy_frechet(*s1, *s2), rtol=1e-4)


def test_fid_with_a_feature_model_and_the_streaming_metric():
    real = RNG.normal(size=(300, 6)).astype("float32")
    fake = (RNG.normal(size=(300, 6)) * 1.5 + 0.3).astype("float32")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, "tanh")])
    features = model.predict(real, verbose=0), model.predict(fake, verbose=0)
    expected = _scipy_frechet(*feature_statistics(features[0]), *feature_statistics(features[1]))
    np.testing.assert_allclose(fid(real, fake, model), expected, rtol=1e-5)
    metric = FrechetDistance(dim=4)
    for i in range(0, 300, 100):  # streaming over batches gives the same statistics
        metric.update_state(features[0][i : i + 100], features[1][i : i + 100])
    np.testing.assert_allclose(float(metric.result()), expected, rtol=2e-3, atol=1e-4)
    clone = FrechetDistance.from_config(metric.get_config())
    assert clone.dim == 4
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_mode_coverage_counts_classes_and_kl():
    uniform = mode_coverage(np.arange(100) % 10, 10)
    assert uniform["modes"] == 10 and abs(uniform["kl_from_uniform"]) < 1e-12
    collapsed = mode_coverage(np.full(50, 3), 10)
    assert collapsed["modes"] == 1
    np.testing.assert_allclose(collapsed["kl_from_uniform"], np.log(10))
    probs = np.eye(4)[[0, 1, 1, 1]] * 0.9 + 0.025
    result = mode_coverage(probs, 4, min_count=2)
    assert result["modes"] == 1
    np.testing.assert_allclose(result["histogram"], [0.25, 0.75, 0, 0])


@pytest.mark.parametrize("support", [200, 1000])
def test_birthday_paradox_recovers_a_known_support(support):
    """A synthetic generator with exactly `support` distinct outputs (plus tiny noise)."""
    atoms = RNG.normal(size=(support, 16))
    s = int(np.sqrt(support))  # batches near the 50% collision regime
    draws = atoms[RNG.integers(0, support, size=400 * s)] + RNG.normal(
        scale=1e-4, size=(400 * s, 16)
    )
    result = birthday_paradox_support(draws, threshold=1e-2, batch_size=s)
    assert 0.7 * support < result["support"] < 1.4 * support, result
    assert 0.8 * support < result["support_pairs"] < 1.25 * support, result
    i, j = result["duplicates"][0]
    assert np.linalg.norm(draws[i] - draws[j]) < 1e-2


def test_birthday_paradox_without_collisions_and_with_cosine():
    result = birthday_paradox_support(RNG.normal(size=(100, 8)), threshold=1e-3, batch_size=10)
    assert result["support"] == np.inf and result["collision_probability"] == 0.0
    scaled = np.repeat(RNG.normal(size=(5, 8)), 20, axis=0) * RNG.uniform(1, 2, size=(100, 1))
    cosine = birthday_paradox_support(scaled, threshold=1e-6, batch_size=10, distance="cosine")
    assert cosine["collision_probability"] == 1.0
