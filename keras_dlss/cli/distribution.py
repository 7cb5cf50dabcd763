"""How `keras-dlss train` spreads a run over devices or workers.

`--strategy mirrored|multiworker` picks a `tf.distribute` strategy (TensorFlow),
`--strategy data-parallel` a `keras.distribution.DataParallel` (JAX), and
`--workers N` launches a supervised local cluster. The model code never changes:
the run is built inside `scope(...)` and fitted with the global batch.
"""

import contextlib
import os
import sys

from keras_dlss.cli._common import UsageError, get_task, num_examples


def before_keras(args):
    """Splits the host CPU into --devices XLA devices for a JAX data-parallel run."""
    if args.strategy == "data-parallel":
        from keras_dlss.jax_distribution import force_host_devices

        force_host_devices(args.devices or 2)


def divisible_by_replicas(data, args, strategy):
    """For `keras.distribution`: every batch, the last included, must split evenly.

    JAX shards each batch across the devices; a last batch of 15 on 2 devices
    cannot be. Each split is cut to a multiple of the device count (at most
    R - 1 examples dropped, said on stderr), and the batch size must be one.
    """
    if strategy is None or hasattr(strategy, "num_replicas_in_sync"):
        return data
    replicas = replica_count(strategy)
    batch_size = args.batch_size or get_task(args.app).default_batch_size
    if batch_size % replicas:
        raise UsageError(
            f"--batch-size {batch_size} must be a multiple of the {replicas} devices of "
            "--strategy data-parallel"
        )
    splits = (data.train, data.validation, data.test)
    sizes = [num_examples(split) for split in splits if split is not None]
    if all(n % replicas == 0 for n in sizes):
        return data
    print(
        f"keras-dlss train: each split cut to a multiple of {replicas} devices (sizes {sizes})",
        file=sys.stderr,
    )
    return type(data)(*(_cut(split, replicas) for split in splits), data.info)


def _cut(split, multiple):
    import keras

    if split is None:
        return None
    n = num_examples(split) // multiple * multiple
    return keras.tree.map_structure(lambda a: a[:n], split)


def launch(args):
    from keras_dlss import tf_distribute

    if args.strategy in ("mirrored", "data-parallel"):
        raise UsageError(
            f"--workers runs MultiWorkerMirroredStrategy; it contradicts --strategy {args.strategy}"
        )
    out = args.out or os.path.join("out", args.app)
    return tf_distribute.launch_workers(
        args.argv, args.workers, out, max_restarts=args.max_restarts, backup_dir=args.backup_dir
    )


def replica_count(strategy):
    if strategy is None:
        return 1
    if hasattr(strategy, "num_replicas_in_sync"):
        return strategy.num_replicas_in_sync
    return len(strategy.device_mesh.devices.ravel())


def strategy_for(keras, args):
    """The `tf.distribute` strategy or `keras.distribution` asked for, or None.

    A `keras.distribution` (JAX) is made the global distribution here: it has no
    `scope()` that covers `fit`, `evaluate` and the exports alike.
    """
    if args.strategy is None:
        if args.devices:
            raise UsageError("--devices needs --strategy mirrored or data-parallel")
        return None
    if args.strategy == "data-parallel":
        if keras.config.backend() != "jax":
            raise UsageError(
                "--strategy data-parallel uses keras.distribution and needs KERAS_BACKEND=jax "
                f"(this is {keras.config.backend()}; on TensorFlow use --strategy mirrored)"
            )
        from keras_dlss.jax_distribution import data_parallel

        distribution = data_parallel(args.devices or 2)
        keras.distribution.set_distribution(distribution)
        return distribution
    if keras.config.backend() != "tensorflow":
        raise UsageError(
            f"--strategy uses tf.distribute and needs KERAS_BACKEND=tensorflow "
            f"(this is {keras.config.backend()}; on JAX use keras.distribution, docs/scaling.md)"
        )
    from keras_dlss import tf_distribute

    return tf_distribute.make_strategy(args.strategy, args.devices)


def scope(strategy):
    if strategy is None or not hasattr(strategy, "num_replicas_in_sync"):
        return contextlib.nullcontext()  # keras.distribution: already global
    return strategy.scope()


def xla_supported(strategy):
    if strategy is None or not hasattr(strategy, "num_replicas_in_sync"):
        return True
    from keras_dlss import tf_distribute

    if not tf_distribute.xla_supported(strategy):
        print(
            "keras-dlss train: several replicas on CPUs run without XLA (docs/scaling.md)",
            file=sys.stderr,
        )
        return False
    return True
