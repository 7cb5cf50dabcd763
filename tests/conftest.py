import contextlib
import io
import json
import os
import runpy
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402

SHARED_DATA = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "shared", "data")


@pytest.fixture(autouse=True)
def _isolate_keras_state():
    """Fixed seeds per test; dtype policy restored so one test cannot leak mixed precision."""
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")
    # Without the full gc.collect() that free_memory=True runs: it cost ~0.3-1 s per test,
    # minutes over the suite, and Python's own collector keeps memory bounded.
    keras.backend.clear_session(free_memory=False)


@pytest.fixture(scope="session")
def shared_data_dir():
    """Path to ../shared/data, or skip when the folder is absent (users won't have it)."""
    path = os.path.abspath(SHARED_DATA)
    if not os.path.isdir(path):
        pytest.skip(f"shared data folder not found at {path}")
    return path


@pytest.fixture(scope="session")
def run_under_backend():
    """Runs a check script under one backend in its own interpreter (Keras fixes its backend
    at import), or in this one for this session's backend, and returns the JSON dict the
    script prints on its last line."""

    def run(script, backend, timeout=900):
        if backend == keras.config.backend():
            # This session's own backend: run here, not pay a fresh interpreter's imports
            # (TensorFlow + keras-dlss, 5-8 s of CPU) for the reference numbers.
            stdout = io.StringIO()
            with contextlib.redirect_stdout(stdout):
                runpy.run_path(script, run_name="__main__")
            results = json.loads(stdout.getvalue().strip().splitlines()[-1])
            assert results["backend"] == backend
            return results
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        out = subprocess.run(
            [sys.executable, script], env=env, capture_output=True, text=True, timeout=timeout
        )
        assert out.returncode == 0, f"{backend} run failed:\n{out.stderr[-4000:]}"
        results = json.loads(out.stdout.strip().splitlines()[-1])
        assert results["backend"] == backend
        return results

    return run
