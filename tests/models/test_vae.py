"""VAE and ConditionalVAE: the Gaussian ops and the ELBO against closed forms, annealing,
importance-weighted likelihood against the exact marginal, save/load, export, bad input."""

import math

import keras
import numpy as np
import pytest
from keras import ops
from scipy import stats

from keras_dlss.applications.digit_completion import build_completion_cvae, split_halves
from keras_dlss.export import export_and_compare
from keras_dlss.models import VAE, ConditionalVAE
from keras_dlss.ops import gaussian_kl_divergence, gaussian_log_likelihood, gaussian_sample

RNG = np.random.default_rng(0)


def test_gaussian_log_likelihood_matches_scipy():
    x, mean = RNG.normal(size=(2, 5, 3)), RNG.normal(size=(2, 5, 3))
    log_var = RNG.normal(size=(2, 5, 3)) * 0.5
    expected = stats.norm.logpdf(x, mean, np.exp(0.5 * log_var)).sum(-1)
    got = ops.convert_to_numpy(gaussian_log_likelihood(x, mean, log_var))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_reparameterized_kl_matches_closed_form():
    mean, log_var = RNG.normal(size=(1, 4)), RNG.normal(size=(1, 4)) * 0.5
    prior_mean, prior_log_var = RNG.normal(size=(1, 4)), RNG.normal(size=(1, 4)) * 0.5
    closed = float(
        ops.convert_to_numpy(gaussian_kl_divergence(mean, log_var, prior_mean, prior_log_var))[0]
    )
    # The Monte-Carlo KL from reparameterized samples: E_q[log q(z) - log p(z)].
    tile = lambda a: np.repeat(a, 100_000, 0).astype("float32")  # noqa: E731
    z = gaussian_sample(tile(mean), tile(log_var), seed=1)
    log_q = gaussian_log_likelihood(z, tile(mean), tile(log_var))
    log_p = gaussian_log_likelihood(z, tile(prior_mean), tile(prior_log_var))
    estimate = float(ops.mean(log_q - log_p))
    assert abs(estimate - closed) < 0.03 * max(1.0, closed), (estimate, closed)
    # Independent formula (full-covariance KL with diagonal matrices).
    var_q, var_p = np.exp(log_var[0]), np.exp(prior_log_var[0])
    reference = 0.5 * (
        np.sum(var_q / var_p)
        + np.sum((prior_mean[0] - mean[0]) ** 2 / var_p)
        - 4
        + np.log(np.prod(var_p) / np.prod(var_q))
    )
    assert closed == pytest.approx(reference, rel=1e-5)


def _linear_gaussian_vae(mean, log_var, w, b):
    """Encoder with a fixed posterior, linear decoder: the ELBO and log p(x) have closed forms."""
    d, latent = w.shape[1], w.shape[0]
    encoder = keras.Sequential([keras.Input((d,)), keras.layers.Dense(2 * latent)])
    encoder.set_weights([np.zeros((d, 2 * latent)), np.concatenate([mean, log_var])])
    decoder = keras.Sequential([keras.Input((latent,)), keras.layers.Dense(d)])
    decoder.set_weights([w, b])
    return VAE(encoder, decoder, latent_dim=latent, likelihood="gaussian", seed=0)


def test_elbo_matches_closed_form_and_iwae_approaches_log_marginal():
    latent, d = 2, 3
    mean, log_var = np.array([0.3, -0.2]), np.array([-0.5, -1.0])
    w, b = RNG.normal(size=(latent, d)), RNG.normal(size=d)
    x = RNG.normal(size=(1, d)).astype("float32")
    vae = _linear_gaussian_vae(mean, log_var, w, b)
    reconstruction, kl = vae.elbo_terms(np.repeat(x, 50_000, 0), None)
    elbo = float(ops.mean(reconstruction - kl))
    # E_q ||x - W^T z - b||^2 = ||x - W^T m - b||^2 + sum_j var_j ||W_j||^2.
    residual = x[0] - mean @ w - b
    expected_sq = residual @ residual + np.sum(np.exp(log_var) * np.sum(w**2, axis=1))
    closed_rec = -0.5 * (expected_sq + d * math.log(2 * math.pi))
    closed_kl = 0.5 * np.sum(np.exp(log_var) + mean**2 - 1 - log_var)
    assert elbo == pytest.approx(closed_rec - closed_kl, abs=0.03)
    assert float(ops.mean(kl)) == pytest.approx(closed_kl, rel=1e-5)
    # Exact marginal: x ~ N(b, W^T W + I). IWAE is a tighter bound than the ELBO.
    exact = stats.multivariate_normal(b, w.T @ w + np.eye(d)).logpdf(x[0])
    iwae = vae.importance_weighted_log_likelihood(np.repeat(x, 200, 0), num_samples=64).mean()
    assert elbo < iwae < exact + 0.01
    assert exact - iwae < 0.5 * (exact - elbo)


def _tiny_vae(**kwargs):
    encoder = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(4)]
    )
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(6)])
    return VAE(encoder, decoder, latent_dim=2, seed=0, **kwargs)


def test_kl_annealing_ramps_beta_with_optimizer_steps():
    vae = _tiny_vae(kl_weight=0.5, kl_warmup_steps=4)
    vae.compile(optimizer="sgd")
    vae.optimizer.build(vae.trainable_variables)
    betas = []
    for step in range(6):
        vae.optimizer.iterations.assign(step)
        betas.append(float(vae.kl_beta()))
    np.testing.assert_allclose(betas, [0.125, 0.25, 0.375, 0.5, 0.5, 0.5])


@pytest.fixture(scope="module")
def trained_cvae(tmp_path_factory):
    from keras_dlss.datasets import digits

    images, _ = digits(8)
    top, bottom = split_halves(images[:256])
    keras.utils.set_random_seed(0)
    cvae = build_completion_cvae(32, 32, latent_dim=4, units=32, seed=0, kl_warmup_steps=10)
    cvae.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=True)
    history = cvae.fit(top, bottom, epochs=3, batch_size=64, verbose=0)
    return cvae, top, bottom, history.history


def test_cvae_trains_and_logs_its_terms(trained_cvae):
    cvae, top, bottom, history = trained_cvae
    assert set(history) == {"loss", "reconstruction_loss", "kl"}
    assert history["loss"][-1] < history["loss"][0]
    samples = ops.convert_to_numpy(cvae.sample(top[:3], num_samples=4, seed=0))
    assert samples.shape == (4, 3, 32) and samples.min() >= 0 and samples.max() <= 1
    # Different noise, different completions; fixed noise, the same ones.
    assert np.abs(samples[0] - samples[1]).max() > 1e-3
    noise = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
    a = ops.convert_to_numpy(cvae.sample(top[:3], 2, noise=noise))
    np.testing.assert_allclose(a, ops.convert_to_numpy(cvae.sample(top[:3], 2, noise=noise)))


def test_cvae_save_load_keeps_weights_and_compile_state(trained_cvae, tmp_path):
    cvae, top, bottom, _ = trained_cvae
    path = str(tmp_path / "cvae.keras")
    cvae.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded(top[:5])), ops.convert_to_numpy(cvae(top[:5])), atol=1e-6
    )
    assert int(loaded.optimizer.iterations) == int(cvae.optimizer.iterations) > 0
    assert len(loaded.optimizer.variables) == len(cvae.optimizer.variables)
    assert loaded.kl_warmup_steps == 10 and loaded.latent_dim == 4
    loaded.fit(top[:64], bottom[:64], epochs=1, batch_size=32, verbose=0)  # resumes training


def test_decoder_and_model_export_with_fixed_noise(trained_cvae, tmp_path):
    cvae, top, _, _ = trained_cvae
    z = np.random.default_rng(1).normal(size=(4, 4)).astype("float32")
    diff = export_and_compare(cvae.decoder, str(tmp_path / "decoder"), [top[:4], z])
    assert diff < 1e-5
    assert export_and_compare(cvae, str(tmp_path / "cvae"), top[:4]) < 1e-5


def test_eager_and_jit_predictions_agree(trained_cvae):
    cvae, top, _, _ = trained_cvae
    eager = ops.convert_to_numpy(cvae(top[:8]))
    cvae.compile(optimizer=cvae.optimizer, jit_compile=True)
    np.testing.assert_allclose(cvae.predict(top[:8], verbose=0), eager, atol=1e-5)


def test_bad_inputs_name_the_argument(trained_cvae):
    cvae, top, bottom, _ = trained_cvae
    with pytest.raises(ValueError, match="`z`.*Received"):
        cvae.decode(top[:2], np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="`latent_dim`.*Received: latent_dim=3"):
        ConditionalVAE(cvae.recognition, cvae.prior_network, cvae.decoder, latent_dim=3)
    with pytest.raises(ValueError, match="`data`.*Received"):
        cvae.importance_weighted_log_likelihood(top[:0], bottom[:0])
    with pytest.raises(ValueError, match="`num_samples`.*Received"):
        cvae.sample(top[:2], num_samples=0)
    with pytest.raises(ValueError, match="`likelihood`.*Received"):
        _tiny_vae(likelihood="poisson")
    with pytest.raises(ValueError, match="`encoder`.*Received"):
        VAE("dense", keras.layers.Dense(2), latent_dim=2)
    with pytest.raises(ValueError, match="`log_variance`.*Received"):
        gaussian_kl_divergence(np.zeros((2, 3)), np.zeros((2, 4)))
