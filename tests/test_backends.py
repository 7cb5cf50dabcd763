"""The same components give the same numbers on the JAX and PyTorch backends as on TensorFlow.

Each backend runs `tests/_backend_checks.py` in its own interpreter (Keras
fixes its backend at import). JAX and PyTorch (CPU 2.13.0) come with the
`test` extra; a backend that is not installed is skipped.
"""

import importlib.util
import os

import numpy as np
import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "_backend_checks.py")
# Values that depend on a backend's random initializers, compared by property instead.
RANDOM = {"crf_fit_loss", "crf_fit_accuracy", "backend"}


@pytest.fixture(scope="session")
def tensorflow_results(run_under_backend):
    return run_under_backend(SCRIPT, "tensorflow")


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_backend_matches_tensorflow(backend, tensorflow_results, run_under_backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    results = run_under_backend(SCRIPT, backend)
    assert set(results) == set(tensorflow_results)
    for key, expected in tensorflow_results.items():
        if key in RANDOM:
            continue
        np.testing.assert_allclose(
            _flatten(results[key]), _flatten(expected), atol=2e-5, err_msg=key
        )
    assert results["crf_fit_accuracy"] >= 0.95  # CRFModel.fit(x, y) trains on this backend
    assert results["crf_fit_loss"][-1] < 0.1 * results["crf_fit_loss"][0]
    assert results["fixed_point_cell_weights_moved"] > 1e-3  # implicit gradients reach the cell


def _flatten(nested):
    if isinstance(nested, list):
        return np.concatenate([_flatten(x) for x in nested]) if nested else np.zeros(0)
    return np.ravel(np.asarray(nested, dtype=float))
