"""`keras.distribution.DataParallel` on JAX over 2 host devices (issue #19 item 1), by effect.

A data-parallel run must give the weights and loss of a single-device run on the
same global batch, for plain models (`mlp` with BatchNormalization: statistics of
the global batch, with no synchronization code) and for models with their own
train step (`tagger`'s CRFModel, `dcgan`'s two-player GAN step). XLA's host
device count is fixed when JAX starts, so the runs happen in a fresh process.
"""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PARITY = r"""
import json, sys
import numpy as np
from keras_dlss import jax_distribution
jax_distribution.force_host_devices(2)
import keras
from keras_dlss.applications.registry import get_task
from keras_dlss.cli.train import limit_examples

def run(app, hparams, distribution=None):
    keras.utils.set_random_seed(0)
    task = get_task(app)
    data = limit_examples(task.load_data(None, seed=0), 64)
    keras.distribution.set_distribution(distribution)
    model = task.build_model(data, jit_compile=True, seed=0, **hparams)
    history = task.fit(model, data, epochs=1, batch_size=16, callbacks=[], verbose=0)
    weights = [np.asarray(v.numpy()) for v in model.weights]
    sharding = str(getattr(model.weights[0].value, "sharding", ""))
    keras.distribution.set_distribution(None)
    return weights, history.history["loss"][-1], sharding

def diff(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))

parallel = jax_distribution.data_parallel(2)
out = {"devices": len(keras.distribution.list_devices())}
for app, hparams in json.loads(sys.argv[1]).items():
    one, loss_one, _ = run(app, hparams)
    two, loss_two, sharding = run(app, hparams, parallel)
    out[app] = {"weights": diff(one, two), "loss": abs(loss_one - loss_two),
                "loss_one": loss_one, "sharding": sharding}
    if app == "mlp":  # one single-device rerun (the largest difference): a third of the cost
        out[app]["deterministic"] = diff(one, run(app, hparams)[0]) == 0.0
print(json.dumps(out))
"""

APPS = {
    "mlp": {"dropout": 0.0, "normalization": "batch"},
    "tagger": {"dropout": 0.0},
    "dcgan": {},
}

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="no jax")


@pytest.fixture(scope="module")
def parity():
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_ENABLE_X64", "XLA_FLAGS")}
    env.update(KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", PARITY, json.dumps(APPS)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("app", sorted(APPS))
def test_data_parallel_step_equals_the_single_device_step_on_the_global_batch(parity, app):
    assert parity["devices"] == 2
    assert "NamedSharding" in parity[app]["sharding"], parity[app]  # replicated on the mesh
    assert parity[app]["weights"] < 5e-4, parity[app]
    assert parity[app]["loss"] < 1e-4 * max(1.0, abs(parity[app]["loss_one"])), parity[app]


def test_the_single_device_run_is_deterministic(parity):
    # So the differences above are the distribution's alone (checked on mlp, whose batch
    # statistics and largest difference make it the likeliest to vary).
    assert parity["mlp"]["deterministic"]


def test_data_parallel_arguments_are_checked():
    from keras_dlss import jax_distribution

    with pytest.raises(ValueError, match="`count`.*Received: count=0"):
        jax_distribution.force_host_devices(0)
    with pytest.raises(ValueError, match="backend"):  # this process runs TensorFlow
        jax_distribution.data_parallel(2)
