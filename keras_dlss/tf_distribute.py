"""Multi-device and multi-worker training through `tf.distribute` (TensorFlow backend only).

This module is TensorFlow-specific by design (the rest of the library is
`keras.ops` only): it picks a `tf.distribute` strategy, makes logical CPU
devices so that a mirrored run can be tested without GPUs, synchronizes batch
normalization across replicas for the duration of a fit, and launches and
supervises local worker processes for `MultiWorkerMirroredStrategy`.

Python path (what `keras-dlss train APP --strategy mirrored` does):

```python
from keras_dlss import tf_distribute

strategy = tf_distribute.make_strategy("mirrored")     # all GPUs, or logical CPUs
with strategy.scope():                                 # variables are mirrored
    model = build_and_compile_model()
with tf_distribute.synchronized_batch_norm(model):     # global-batch BN statistics
    model.fit(x, y, batch_size=GLOBAL_BATCH)           # Keras splits each batch
```

The batch size given to `fit` is the global batch: each of R replicas computes
the loss on 1/R of it, Keras scales the loss by 1/R and the optimizer sums the
replicas' gradients, so one step equals a single-device step on the same global
batch (checked by `tests/test_tf_distribute.py`, weights within float tolerance).
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

STRATEGIES = ("mirrored", "multiworker")


def use_logical_cpus(count):
    """Splits the host CPU into `count` logical devices (before TensorFlow initializes).

    Lets `MirroredStrategy` run R replicas on a machine without GPUs, which is how
    the mirrored path is tested in CI. A no-op when the split is already in place.

    Raises:
        ValueError: `count` < 1, or TensorFlow's devices were already initialized
            with a different number of CPUs.
    """
    import tensorflow as tf

    if not isinstance(count, int) or count < 1:
        raise ValueError(f"Argument `count` must be an int >= 1. Received: count={count!r}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == count:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError as error:
        raise ValueError(
            "Argument `count`: logical CPUs must be configured before TensorFlow runs its "
            f"first operation ({error}). Received: count={count}"
        ) from None


def make_strategy(kind, devices=None):
    """A `tf.distribute` strategy by name.

    Args:
        kind: `"mirrored"` (one machine: all its GPUs, or `devices` logical CPUs
            when it has none) or `"multiworker"` (`MultiWorkerMirroredStrategy`,
            the cluster read from the `TF_CONFIG` environment variable).
        devices: int. Replicas of a mirrored run on a machine without GPUs.
            Defaults to 2 there; ignored when GPUs exist.

    Returns:
        A `tf.distribute.Strategy`.
    """
    import tensorflow as tf

    if kind not in STRATEGIES:
        raise ValueError(f"Argument `kind` must be one of {STRATEGIES}. Received: kind={kind!r}")
    if kind == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "Argument `kind`='multiworker' needs the cluster in the TF_CONFIG environment "
                "variable (or `keras-dlss train APP --workers N`, which sets it). "
                f"Received: kind={kind!r}"
            )
        return _multi_worker_strategy()
    if tf.config.list_physical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    use_logical_cpus(devices or 2)
    names = [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(names)


def _multi_worker_strategy():
    """`MultiWorkerMirroredStrategy` with the one eager reduce Keras 3's `fit` needs.

    Keras 3.15's TensorFlow trainer reduces the first distributed batch with
    `strategy.reduce("MEAN", batch, axis=None)`, eagerly, only to learn its shapes for
    the symbolic build; the collective strategy cannot convert that `PerReplica`
    eagerly and `fit` fails before its first step (keras-team/keras#20585,
    tensorflow/tensorflow#72388, open). Where that eager reduce fails, this strategy
    averages the local replicas' values instead: the shapes are the same, and inside
    the training step (graph mode) every reduce is the strategy's own. The step's
    logs then fail the same way: Keras reduces each scalar log with `axis=0`, which
    a scalar does not have; those are reduced over replicas with `axis=None`.
    """
    import tensorflow as tf

    class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis):
            if axis is not None and self._scalars(value):
                axis = None  # Keras' reduce_per_replica asks axis=0 of scalar logs (the loss)
            try:
                return super().reduce(reduce_op, value, axis)
            except ValueError:
                leaves = tf.nest.flatten(value)
                eager_distributed = tf.executing_eagerly() and all(
                    isinstance(v, tf.distribute.DistributedValues) for v in leaves
                )
                if not eager_distributed or axis is not None or reduce_op != "MEAN":
                    raise
            return tf.nest.map_structure(self._local_mean, value)

        def _scalars(self, value):
            # One replica per worker: `run` returns plain tensors, not `PerReplica`.
            leaves = [self.experimental_local_results(v)[0] for v in tf.nest.flatten(value)]
            return all(getattr(v, "shape", None) is not None and v.shape.rank == 0 for v in leaves)

        def _local_mean(self, value):
            local = self.experimental_local_results(value)
            dtype = local[0].dtype
            mean = tf.add_n([tf.cast(v, "float64") for v in local]) / len(local)
            return tf.cast(mean, dtype)

    return MultiWorkerMirroredStrategy()


def xla_supported(strategy):
    """Whether `jit_compile=True` works under `strategy`.

    Not for several replicas on CPUs: on logical CPUs of one host, XLA's CPU client
    is one device and a replica's compiled step cannot read a variable placed on
    another ("Trying to access resource ... located in device CPU:1 from device
    CPU:0"); across CPU workers, XLA has no CPU collectives ("Collectives are not
    yet implemented for CPU devices when compiling with XLA"). GPUs compile.
    """
    devices = strategy.extended.worker_devices
    on_cpu = all("CPU" in d.upper() for d in devices)
    return not (on_cpu and strategy.num_replicas_in_sync > 1)


def _batch_norm_layers(model):
    import keras

    return [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


@contextlib.contextmanager
def synchronized_batch_norm(model):
    """Within the block, every `BatchNormalization` in `model` uses global-batch statistics.

    `BatchNormalization(synchronized=True)` all-reduces the per-replica sums, so a
    mirrored step normalizes with the statistics of the whole global batch, as a
    single device would. The flag is put back afterwards: the saved `.keras` file
    stays loadable on JAX and PyTorch, where `synchronized=True` is refused.
    """
    layers = _batch_norm_layers(model)
    before = [layer.synchronized for layer in layers]
    for layer in layers:
        layer.synchronized = True
    try:
        yield layers
    finally:
        for layer, value in zip(layers, before):
            layer.synchronized = value


def free_ports(count):
    """`count` TCP ports free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def worker_backup_dir(backup_dir, index):
    """Each worker backs up to its own folder: `BackupAndRestore` is not multi-worker aware."""
    return os.path.join(backup_dir, f"worker-{index}")


def _share_chief_backup(backup_dir, workers):
    """Before a restart, every worker gets the chief's backup, so all resume at one epoch.

    A worker killed while writing its backup could otherwise resume an epoch behind the
    others, and the cluster's collectives would wait for each other forever.
    """
    chief = worker_backup_dir(backup_dir, 0)
    if not os.path.isdir(chief):
        return
    for index in range(1, workers):
        target = worker_backup_dir(backup_dir, index)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(chief, target)


def worker_argv(argv, index, out):
    """The `keras-dlss train` arguments of worker `index`: `--workers` dropped, its own `--out`.

    Non-chief workers write to `OUT/worker-INDEX` (Keras' multi-worker saving needs a
    distinct path per worker) and export nothing; the chief (index 0) writes `OUT`.
    """
    if argv and argv[0] == "train":
        argv = argv[1:]
    args, skip, backup = [], False, None
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg in ("--workers", "--out", "--strategy", "--backup-dir"):
            skip = i + 1 < len(argv)
            if arg == "--backup-dir" and skip:
                backup = argv[i + 1]
            continue
        if arg.startswith(("--workers=", "--out=", "--strategy=")):
            continue
        if arg.startswith("--backup-dir="):
            backup = arg.split("=", 1)[1]
            continue
        args.append(arg)
    own_out = out if index == 0 else os.path.join(out, f"worker-{index}")
    args += ["--strategy", "multiworker", "--out", own_out]
    if backup:
        args += ["--backup-dir", worker_backup_dir(backup, index)]
    if index:
        args += ["--export", "none"]
    return args


def launch_workers(argv, workers, out, max_restarts=0, backup_dir=None, poll_seconds=0.2):
    """Runs `keras-dlss train` as `workers` local processes of a multi-worker cluster.

    Each process gets `TF_CONFIG` for a cluster on 127.0.0.1 (free ports) and its
    index. The launcher supervises them: when one dies (a crash, a SIGKILL) and
    restarts are left, every worker is stopped and the cluster restarted — with
    `--backup-dir`, Keras' `BackupAndRestore` resumes from the last backup. Ctrl-C
    stops every worker. The workers' pids are written to `OUT/workers.json` (for
    supervision tools and the fault-injection test).

    Returns:
        The chief's exit status (0 on success).
    """
    os.makedirs(out, exist_ok=True)
    restarts = 0
    while True:
        processes = _start_cluster(argv, workers, out)
        _record(out, processes, restarts)
        try:
            status = _supervise(processes, poll_seconds)
        except KeyboardInterrupt:
            _stop(processes)
            return 130
        if status == 0:
            return 0
        _stop(processes)
        # Status 2 is a usage error (bad option, unreadable data): the same on every try.
        if status == 2 or restarts >= max_restarts:
            print(
                f"keras-dlss train: a worker failed (status {status}); no restarts left",
                file=sys.stderr,
            )
            return status or 1
        restarts += 1
        if backup_dir:
            _share_chief_backup(backup_dir, workers)
        print(
            f"keras-dlss train: a worker failed (status {status}); restarting the cluster "
            f"({restarts}/{max_restarts})",
            file=sys.stderr,
            flush=True,
        )


def _start_cluster(argv, workers, out):
    ports = free_ports(workers)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    processes = []
    for index in range(workers):
        env = dict(os.environ)
        env["TF_CONFIG"] = json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}
        )
        command = [sys.executable, "-m", "keras_dlss", "train", *worker_argv(argv, index, out)]
        # Each worker leads its own process group, so stopping it stops its children too.
        processes.append(subprocess.Popen(command, env=env, start_new_session=True))
    return processes


def _record(out, processes, restarts):
    path = os.path.join(out, "workers.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"pids": [p.pid for p in processes], "restarts": restarts}, f)
    os.replace(path + ".tmp", path)


def _supervise(processes, poll_seconds):
    """Waits until every worker succeeded (0) or one failed (its status, negative if signalled)."""
    while True:
        codes = [p.poll() for p in processes]
        failed = [c for c in codes if c not in (None, 0)]
        if failed:
            return failed[0]
        if all(c == 0 for c in codes):
            return 0
        time.sleep(poll_seconds)


def _stop(processes, grace_seconds=10.0):
    for p in processes:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    for p in processes:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()
