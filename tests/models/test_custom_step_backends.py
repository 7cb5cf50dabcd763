"""Every model with a custom step trains on TensorFlow, JAX and PyTorch, with TensorFlow's numbers.

`_custom_step_checks.py` trains CRFModel, SAMModel (also over BatchNorm),
KFACModel, EvolutionStrategiesModel, the three Seq2SeqTranslator regimes and
the GAN of docs/models.md under one backend per interpreter (Keras fixes its
backend at import). Deterministic steps start from the same NumPy weights and
must end at TensorFlow's weights; steps that draw random numbers (backends
have different streams) are checked by effect. The TensorFlow-only tests
below check the migrated steps against hand-written reference updates.
"""

import importlib.util
import os

import keras
import numpy as np
import pytest

from keras_dlss import models, optimizers

SCRIPT = os.path.join(os.path.dirname(__file__), "_custom_step_checks.py")
# Same math and the same NumPy initial weights: TensorFlow's values within float32 noise.
DETERMINISTIC = (
    "crf_loss",
    "crf_weights",
    "crf_eval",
    "sam_loss",
    "sam_mae",
    "sam_weights",
    "kfac_loss",
    "kfac_weights",
    "bn_moving",
    "bn_weights",
    "teacher_forcing_loss",
    "teacher_forcing_weights",
)


def _run(run_under_backend, backend):
    results = run_under_backend(SCRIPT, backend, timeout=1500)
    print(backend, "steps/s", results["steps_per_s"])
    return results


@pytest.fixture(scope="module")
def tensorflow_results(run_under_backend):
    return _run(run_under_backend, "tensorflow")


def _falls(losses, factor=0.9):
    return np.isfinite(losses).all() and losses[-1] < factor * losses[0]


def test_tensorflow_trains_every_model(tensorflow_results):
    _check_by_effect(tensorflow_results)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_backend_matches_tensorflow(backend, tensorflow_results, run_under_backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    results = _run(run_under_backend, backend)
    for key in DETERMINISTIC:
        np.testing.assert_allclose(
            results[key], tensorflow_results[key], rtol=1e-4, atol=1e-5, err_msg=key
        )
    _check_by_effect(results)


def _check_by_effect(r):
    for key in ("crf_loss", "sam_loss", "kfac_loss", "teacher_forcing_loss"):
        assert _falls(r[key], 0.99), key
    for key in (
        "kfac_gaussian_loss",
        "es_loss",
        "scheduled_sampling_loss",
        "professor_forcing_loss",
    ):
        assert _falls(r[key]), key
    assert r["pf_moved"] > 1e-3 and np.isfinite(r["pf_disc_norm"])
    assert np.isfinite(r["gan_d_loss"]).all() and np.isfinite(r["gan_g_loss"]).all()
    # The generator moved its samples from N(0, small) toward the data (mean 2, 2).
    assert np.mean(r["gan_fake_mean"]) > 0.5


# ---------------------------------------------------------------- TF: same math as before


def _linear(d=3, k=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(8, d)).astype("float32")
    y = rng.normal(size=(8, k)).astype("float32")
    w = rng.normal(size=(d, k)).astype("float32")
    b = rng.normal(size=(k,)).astype("float32")
    inner = keras.Sequential([keras.Input((d,)), keras.layers.Dense(k)])
    inner.set_weights([w, b])
    return inner, x, y, w.astype(np.float64), b.astype(np.float64)


def _mse_grads(x, y, w, b):
    """Gradients of Keras' MSE (mean over outputs, then batch) for `x w + b`."""
    r = x @ w + b - y
    scale = 2.0 / r.size
    return scale * x.T @ r, scale * r.sum(0), r


def test_sam_step_is_the_two_pass_update():
    inner, x, y, w, b = _linear()
    lr, rho = 0.1, 0.05
    model = optimizers.SAMModel(inner)
    model.compile(
        optimizer=optimizers.SAM(keras.optimizers.SGD(lr), rho=rho), loss="mse", jit_compile=True
    )
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    gw, gb, _ = _mse_grads(x, y, w, b)
    norm = np.sqrt((gw**2).sum() + (gb**2).sum())
    gw2, gb2, _ = _mse_grads(x, y, w + rho * gw / norm, b + rho * gb / norm)
    new_w, new_b = inner.get_weights()
    np.testing.assert_allclose(new_w, w - lr * gw2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_b, b - lr * gb2, rtol=1e-5, atol=1e-6)


def test_kfac_step_is_the_preconditioned_update():
    inner, x, y, w, b = _linear()
    lr, damping = 0.1, 1e-2
    model = optimizers.KFACModel(inner)
    model.compile(
        optimizer=optimizers.KFAC(lr, damping=damping, momentum=0.0, kl_clip=None),
        loss="mse",
        jit_compile=True,
    )
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    gw, gb, r = _mse_grads(x, y, w, b)
    n = len(x)
    ds = 2.0 * r / r.size  # d batch-loss / d pre-activation, per example
    A, G = x.T @ x / n, ds.T @ ds * n  # Martens & Grosse eq. 1-3, first batch
    pi = np.sqrt((np.trace(A) / A.shape[0]) / (np.trace(G) / G.shape[0]))
    A_inv = np.linalg.inv(A + pi * np.sqrt(damping) * np.eye(len(A)))
    G_inv = np.linalg.inv(G + np.sqrt(damping) / pi * np.eye(len(G)))
    new_w, new_b = inner.get_weights()
    np.testing.assert_allclose(new_w, w - lr * A_inv @ gw @ G_inv, rtol=2e-3, atol=1e-5)
    np.testing.assert_allclose(new_b, b - lr * gb @ G_inv, rtol=2e-3, atol=1e-5)


def test_models_namespace_names_the_same_classes():
    from keras_dlss import applications, layers, training

    assert models.CRFModel is layers.CRFModel
    assert models.SAMModel is optimizers.SAMModel
    assert models.KFACModel is optimizers.KFACModel
    assert models.EvolutionStrategiesModel is training.EvolutionStrategiesModel
    assert models.Seq2SeqTranslator is applications.seq2seq.Seq2SeqTranslator
    assert keras.saving.get_registered_name(models.SAMModel) == "keras_dlss>SAMModel"


def test_loss_fn_must_return_loss_and_aux():
    inner, x, y, *_ = _linear()
    model = optimizers.SAMModel(inner)
    with pytest.raises(ValueError, match=r"must return `\(loss, aux\)`"):
        model.compute_gradients(lambda: keras.ops.sum(inner(x)), inner.trainable_variables)
    with pytest.raises(ValueError, match="one list per loss"):
        model.compute_gradients(
            lambda: ((keras.ops.sum(inner(x)), keras.ops.sum(inner(x))), None),
            inner.trainable_variables,
        )
