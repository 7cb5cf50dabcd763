"""Every attribution and attack method gives TensorFlow's numbers on JAX (issue #15)."""

import importlib.util
import pathlib

import numpy as np

_SCRIPT = pathlib.Path(__file__).with_name("backend_check_interpret.py")


def _load():
    spec = importlib.util.spec_from_file_location("backend_check_interpret", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_method_runs_on_jax_with_tensorflow_numbers(run_under_backend):
    jax = run_under_backend(str(_SCRIPT), "jax", timeout=300)
    tf = _load().compute(jit_compile=False, train=False)  # eager: no compile time here
    assert tf["backend"] == "tensorflow"
    assert np.isfinite(jax.pop("adv_train_loss"))
    assert np.all(np.isfinite(jax.pop("noise_stability")))
    for key, value in tf.items():
        if key == "backend":
            continue
        np.testing.assert_allclose(jax[key], value, rtol=1e-4, atol=1e-5, err_msg=key)
