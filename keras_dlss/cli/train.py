"""`keras-dlss train`: fit an application with early stopping and write its artifacts.

Writes `model.keras`, `metrics.json` (test metrics, timings, steps per second),
`history.png`, `metadata.json`, `sample_inputs.npz` and whatever the task adds
(`Task.save_artifacts`) first, then tries each export (`saved_model/`,
`model.onnx`) with a parity check against Keras. An export can fail on some
backend (PITFALLS.md, README's backend matrix) and must never lose a trained
run: each attempt's outcome, parity or a one-line reason, goes into
`metrics.json` under `exports`, a failure is one line on stderr, and the exit
status is 1 only for a format the user asked for with `--export`.
"""

import contextlib
import json
import os
import sys
import time

from keras_dlss.cli import artifacts, distribution
from keras_dlss.cli._common import (
    UsageError,
    command,
    get_task,
    import_keras,
    num_examples,
    positive_int,
    readable_path,
)

# What `train` exports when `--export` is not given. Failures of these are reported, not fatal.
DEFAULT_EXPORTS = ("tf_saved_model",)
EXPORT_PATHS = {"tf_saved_model": "saved_model", "onnx": "model.onnx"}
# `metrics.json` keys of each format's parity (`saved_model_max_abs_diff` predates `exports`).
PARITY_KEYS = {"tf_saved_model": "saved_model_max_abs_diff", "onnx": "onnx_max_abs_diff"}


@command(
    "train", "train an application and write model.keras, metrics.json, history.png, saved_model/"
)
def configure(parser):
    parser.add_argument(
        "app",
        help="application name (see `keras-dlss list`); options after it that are not "
        "listed here are the application's own (`Task.options`, e.g. resnet --depth 56)",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help="maximum epochs (early stopping may end sooner)",
    )
    parser.add_argument("--batch-size", type=positive_int, default=None)
    parser.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        help="keep at most N examples of each split (quick runs, CI)",
    )
    parser.add_argument("--out", default=None, help="output directory (default: out/APP)")
    parser.add_argument(
        "--data",
        type=readable_path,
        default=None,
        help="user data file instead of the embedded default",
    )
    parser.add_argument(
        "--no-xla", action="store_true", help="compile without XLA (jit_compile=False)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--export",
        type=_export_formats,
        default=None,
        metavar="FORMATS",
        help="comma-separated formats to export after training: tf_saved_model, onnx, or none "
        "(default: tf_saved_model; a failure is reported and exits 0 unless asked for here, "
        "then 1)",
    )
    parser.add_argument("--no-export", action="store_true", help="same as --export none")
    parser.add_argument(
        "--tensorboard",
        default=None,
        metavar="DIR",
        help="log scalars, the learning rate, weight histograms and the application's pictures "
        "(attention maps, samples) for TensorBoard under DIR",
    )
    parser.add_argument(
        "--strategy",
        choices=("mirrored", "multiworker", "data-parallel"),
        default=None,
        help="tf.distribute strategy (TensorFlow backend): mirrored = all GPUs of this machine, "
        "or --devices logical CPUs without GPUs; multiworker = the TF_CONFIG cluster; "
        "data-parallel = keras.distribution.DataParallel (JAX backend: all devices, or "
        "--devices host CPUs)",
    )
    parser.add_argument(
        "--devices",
        type=positive_int,
        default=None,
        help="replicas of --strategy mirrored or data-parallel on CPU (default 2)",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="run N local worker processes of a MultiWorkerMirroredStrategy cluster (127.0.0.1, "
        "free ports), supervised: a failed worker restarts the cluster (--max-restarts)",
    )
    parser.add_argument("--max-restarts", type=int, default=3, help="with --workers (default 3)")
    parser.add_argument(
        "--backup-dir",
        default=None,
        metavar="DIR",
        help="keras.callbacks.BackupAndRestore: a restarted run resumes from the last epoch backed up",
    )
    parser.set_defaults(run=run, task_options=[], before_keras=distribution.before_keras)


def _export_formats(value):
    """argparse type: a comma-separated list of export formats, or "none"."""
    import argparse

    formats = tuple(f.strip() for f in value.split(",") if f.strip())
    if formats == ("none",):
        return ()
    unknown = [f for f in formats if f not in EXPORT_PATHS]
    if unknown or not formats:
        raise argparse.ArgumentTypeError(
            f"expected formats among {', '.join(EXPORT_PATHS)} (or none), got {value!r}"
        )
    return formats


def run(args):
    if args.workers and args.workers > 1 and "TF_CONFIG" not in os.environ:
        return distribution.launch(args)
    keras = import_keras()
    task = get_task(args.app)
    strategy = distribution.strategy_for(keras, args)
    explicit = args.export is not None
    if args.no_export and args.export:
        raise UsageError("--no-export contradicts --export " + ",".join(args.export))
    formats = () if args.no_export else (args.export if explicit else DEFAULT_EXPORTS)
    hparams = task_hparams(task, args.task_options)
    keras.utils.set_random_seed(args.seed)
    out = args.out or os.path.join("out", args.app)
    os.makedirs(out, exist_ok=True)
    # Options that change the data (a task's `data_options`, e.g. language-model --level) go to
    # `load_data`; `metrics.json` still records them under `options`.
    data_kwargs = {k: hparams[k] for k in getattr(task, "data_options", ()) if k in hparams}
    data = task.load_data(args.data, seed=args.seed, **data_kwargs)
    hparams_model = {k: val for k, val in hparams.items() if k not in data_kwargs}
    if args.limit:
        data = limit_examples(data, args.limit)
    data = distribution.divisible_by_replicas(data, args, strategy)
    jit_compile = not args.no_xla and distribution.xla_supported(strategy)
    with distribution.scope(strategy):
        model = task.build_model(data, jit_compile=jit_compile, seed=args.seed, **hparams_model)
    history, timing = _fit(keras, task, model, data, args, strategy)
    metrics = task.evaluate(model, data)
    losses = history.history.get("loss") or [float("nan")]
    metrics.update(
        {
            "application": args.app,
            "backend": keras.config.backend(),
            "train_loss": float(losses[-1]),
            **timing,
            "jit_compile": jit_compile,
            "options": hparams,
            "replicas": distribution.replica_count(strategy),
            "train_examples": num_examples(data.train),
            "data": data.info.get("source", args.data or "embedded default"),
        }
    )
    written = _write_artifacts(task, model, data, history, metrics, out)
    failed = _export_all(model, task.sample_inputs(data), formats, metrics, out, written)
    print(json.dumps(metrics, indent=2))
    print("wrote: " + ", ".join(a for a in written if a))
    return 1 if explicit and failed else 0


def task_hparams(task, argv):
    """Parses the application's own options (`task.options`: name -> argparse keywords).

    Returns the `build_model` keyword arguments given on the command line, or raises
    `UsageError` naming the options the application accepts.
    """
    import argparse

    options = getattr(task, "options", {})

    class Parser(argparse.ArgumentParser):
        def error(self, message):
            raise UsageError(message)

    parser = Parser(prog=f"keras-dlss train {task.name}", add_help=False, allow_abbrev=False)
    for name, kwargs in options.items():
        parser.add_argument(f"--{name}", default=None, **kwargs)
    values, unknown = parser.parse_known_args(argv)
    if unknown:
        accepted = ", ".join(f"--{name}" for name in options) or "none"
        raise UsageError(
            f"unrecognized arguments: {' '.join(unknown)} ({task.name} options: {accepted})"
        )
    return {k: v for k, v in vars(values).items() if v is not None}


def limit_examples(data, n):
    """`data` with at most `n` examples in each split (every leaf sliced along axis 0)."""
    import keras

    def head(split):
        return None if split is None else keras.tree.map_structure(lambda a: a[:n], split)

    return type(data)(head(data.train), head(data.validation), head(data.test), data.info)


def _fit(keras, task, model, data, args, strategy=None):
    """Fits with early stopping; returns the `History` and the timings for `metrics.json`."""
    monitor = task.monitor if data.validation is not None else "loss"
    timer = _timer(keras)
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor=monitor, patience=task.patience, restore_best_weights=True
        ),
        timer,
    ]
    if getattr(args, "backup_dir", None):
        callbacks.append(keras.callbacks.BackupAndRestore(args.backup_dir))
    if getattr(args, "tensorboard", None):
        from keras_dlss.cli.tensorboard import tensorboard_callbacks

        callbacks += tensorboard_callbacks(keras, task, data, args.tensorboard)
    start = time.perf_counter()
    synchronized = contextlib.nullcontext()
    if strategy is not None and hasattr(strategy, "num_replicas_in_sync"):
        from keras_dlss.tf_distribute import synchronized_batch_norm

        synchronized = synchronized_batch_norm(model)
    with synchronized:
        history = task.fit(
            model,
            data,
            epochs=args.epochs or task.default_epochs,
            batch_size=args.batch_size or task.default_batch_size,
            callbacks=callbacks,
            verbose=1 if sys.stdout.isatty() else 2,
        )
    train_seconds = time.perf_counter() - start
    # The first epoch includes compilation: steady-state speed is the mean of the others.
    steady = timer.times[1:] or timer.times
    return history, {
        "epochs_run": len(timer.times),
        "train_seconds": round(train_seconds, 3),
        "first_epoch_seconds": round(timer.times[0], 3) if timer.times else None,
        "seconds_per_epoch": round(sum(steady) / len(steady), 4) if steady else None,
        "train_steps": timer.steps,
        "steps_per_second": timer.steps_per_second(),
    }


def _timer(keras):
    """A callback recording wall time per epoch and the end of every training step."""

    class Timer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.times, self.step_ends, self.steps = [], [], 0

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            self.step_ends.append(time.perf_counter())

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._start)

        def steps_per_second(self):
            # From the end of the first step (which traces and compiles) to the last:
            # validation runs between epochs are excluded only when one epoch runs.
            ends = self.step_ends
            if len(ends) < 2:
                return None
            return round((len(ends) - 1) / (ends[-1] - ends[0]), 3)

    return Timer()


def _write_artifacts(task, model, data, history, metrics, out):
    """Saves the model, its companions and `metrics.json` into `out`; returns the paths."""
    model_path = os.path.join(out, "model.keras")
    model.save(model_path)
    artifacts.save_json(os.path.join(out, artifacts.METADATA), data.info)
    artifacts.save_sample(os.path.join(out, artifacts.SAMPLE_INPUTS), task.sample_inputs(data))
    written = [
        model_path,
        artifacts.plot_history(history.history, os.path.join(out, artifacts.HISTORY_PLOT)),
    ]
    written += task.save_artifacts(model, data, out)
    artifacts.save_json(os.path.join(out, artifacts.METRICS), metrics)
    written.append(os.path.join(out, artifacts.METRICS))
    return written


def _export_all(model, sample, formats, metrics, out, written):
    """Tries each export after the run is safe on disk; records each outcome in `metrics.json`.

    Returns the formats that failed.
    """
    from keras_dlss.export import try_export

    failed = []
    metrics["exports"] = {}
    for format in formats:
        path = os.path.join(out, EXPORT_PATHS[format])
        result = try_export(model, path, sample, format=format)
        metrics["exports"][format] = result
        if result["ok"]:
            metrics[PARITY_KEYS[format]] = result["max_abs_diff"]
            written.append(path)
        else:
            failed.append(format)
            print(
                f"keras-dlss train: {format} export failed, model.keras and metrics.json are "
                f"kept: {result['reason']}",
                file=sys.stderr,
            )
        artifacts.save_json(os.path.join(out, artifacts.METRICS), metrics)
    return failed
