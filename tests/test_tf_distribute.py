"""`tf.distribute` (issue #19 item 1), checked by effect: numbers compared, processes killed.

A mirrored run over 2 logical CPUs must give the weights and the loss of a
single-device run on the same global batch: a loss summed instead of averaged over
replicas would double the step, and per-replica batch statistics would change
every BatchNormalization output. Logical devices must be configured before
TensorFlow starts, so these runs happen in fresh processes.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from keras_dlss import tf_distribute

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PARITY = r"""
import json, sys
import numpy as np
from keras_dlss import tf_distribute
tf_distribute.use_logical_cpus(2)
import keras
import tensorflow as tf
from keras_dlss.applications.registry import get_task
from keras_dlss.cli.train import limit_examples

def run(app, hparams, strategy=None, sync=True):
    keras.utils.set_random_seed(0)
    task = get_task(app)
    data = limit_examples(task.load_data(None, seed=0), 64)
    scope = strategy.scope() if strategy else tf.distribute.get_strategy().scope()
    with scope:
        model = task.build_model(data, jit_compile=False, seed=0, **hparams)
    import contextlib
    block = tf_distribute.synchronized_batch_norm(model) if strategy and sync else contextlib.nullcontext()
    with block:
        history = task.fit(model, data, epochs=1, batch_size=16, callbacks=[], verbose=0)
    return [v.numpy() for v in model.weights], history.history["loss"][-1], model

def diff(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))

mirrored = tf_distribute.make_strategy("mirrored", 2)
out = {"replicas": mirrored.num_replicas_in_sync}
for app, hparams in json.loads(sys.argv[1]).items():
    one, loss_one, _ = run(app, hparams)
    two, loss_two, model = run(app, hparams, mirrored)
    out[app] = {"weights": diff(one, two), "loss": abs(loss_one - loss_two), "loss_one": loss_one,
                "synchronized_after": [l.synchronized for l in tf_distribute._batch_norm_layers(model)]}
    if app == "mlp":
        unsynced, _, _ = run(app, hparams, mirrored, sync=False)
        out[app]["weights_per_replica_bn"] = diff(one, unsynced)
print(json.dumps(out))
"""

APPS = {
    "mlp": {"dropout": 0.0, "normalization": "batch"},  # BatchNormalization
    "tagger": {"dropout": 0.0},  # CRFModel: its own train step (models.CustomStep)
    "seq2seq": {},  # Seq2SeqTranslator: its own teacher-forced step
}


@pytest.fixture(scope="module")
def parity():
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
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
def test_mirrored_step_equals_the_single_device_step_on_the_global_batch(parity, app):
    assert parity["replicas"] == 2
    # Synchronized BN computes E[x²] - E[x]² (one pass) where one device uses two passes.
    assert parity[app]["weights"] < 5e-4, parity[app]
    assert parity[app]["loss"] < 1e-4 * max(1.0, abs(parity[app]["loss_one"])), parity[app]


def test_batch_norm_uses_global_batch_statistics_and_is_put_back(parity):
    # Per-replica statistics (the Keras default under a strategy) move the weights visibly.
    assert parity["mlp"]["weights_per_replica_bn"] > 10 * max(parity["mlp"]["weights"], 1e-7)
    assert parity["mlp"]["synchronized_after"] and not any(parity["mlp"]["synchronized_after"])


def test_worker_arguments_give_each_worker_its_out_and_backup_and_the_chief_the_exports():
    argv = ["train", "mlp", "--workers", "2", "--out", "o", "--backup-dir=b", "--epochs", "3"]
    chief = tf_distribute.worker_argv(argv, 0, "o")
    other = tf_distribute.worker_argv(argv, 1, "o")
    assert chief == [
        "mlp",
        "--epochs",
        "3",
        "--strategy",
        "multiworker",
        "--out",
        "o",
        "--backup-dir",
        os.path.join("b", "worker-0"),
    ]
    assert (
        other[-6:]
        == [
            "--out",
            os.path.join("o", "worker-1"),
            "--backup-dir",
            os.path.join("b", "worker-1"),
            "--export",
            "none",
        ][-6:]
    )
    assert "--workers" not in other


def test_bad_strategy_arguments_name_the_argument():
    with pytest.raises(ValueError, match=r"`kind`.*Received: kind='ring'"):
        tf_distribute.make_strategy("ring")
    with pytest.raises(ValueError, match=r"`count`.*Received: count=0"):
        tf_distribute.use_logical_cpus(0)


def test_a_killed_worker_is_restarted_and_training_resumes_from_the_backup(tmp_path):
    out, backup = tmp_path / "run", tmp_path / "backup"
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [
        sys.executable,
        "-m",
        "keras_dlss",
        "train",
        "mlp",
        "--workers",
        "2",
        "--epochs",
        "12",
        "--limit",
        "256",
        "--batch-size",
        "32",
        "--export",
        "none",
        "--out",
        str(out),
        "--backup-dir",
        str(backup),
        "--max-restarts",
        "1",
    ]
    launcher = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    chief_backup = backup / "worker-0" / "training_metadata.json"
    deadline = time.monotonic() + 600
    while not chief_backup.exists():  # the first epoch is backed up
        assert launcher.poll() is None, launcher.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no backup written"
        time.sleep(0.2)
    epoch_at_kill = json.loads(chief_backup.read_text())["epoch"]
    pids = json.loads((out / "workers.json").read_text())["pids"]
    os.kill(pids[1], signal.SIGKILL)
    stdout, stderr = launcher.communicate(timeout=600)
    assert launcher.returncode == 0, stderr[-3000:]
    assert "restarting the cluster (1/1)" in stderr
    assert json.loads((out / "workers.json").read_text())["restarts"] == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["replicas"] == 2
    # The restarted run began after the backed-up epoch: no epoch was trained twice from scratch.
    assert metrics["epochs_run"] <= 12 - epoch_at_kill
    assert metrics["test_accuracy"] > 0.5
