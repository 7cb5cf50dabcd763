"""The `keras-dlss` command line: list, train, export, tune, predict, generate.

Commands live in a registry (`COMMANDS`) so later issues add one by writing a
`configure(parser)` and a `run(args)` function and registering them.
Errors a user can cause (unknown application, unreadable `--data`, bad option)
print one line and exit with status 2, never a traceback.
"""

import os

# TensorFlow's C++ logging floods stderr of every call (PITFALLS.md): silence it first.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

COMMANDS = {}


class UsageError(Exception):
    """A mistake in the command line: reported as one line, exit status 2."""


def command(name, help):
    """Registers `configure(parser)` / `run(args)` functions as a subcommand."""

    def wrap(configure):
        COMMANDS[name] = {"help": help, "configure": configure}
        return configure

    return wrap


def _keras():
    """Imports Keras/TensorFlow with stderr silenced: TF 2.21 logs through absl at import
    time, before TF_CPP_MIN_LOG_LEVEL can take effect (PITFALLS.md)."""
    if "keras" not in sys.modules:
        with _quiet_stderr():
            import keras
            import tensorflow as tf

            tf.config.list_physical_devices()  # device discovery logs too
    import keras

    return keras


class _quiet_stderr:
    def __enter__(self):
        sys.stderr.flush()
        self._saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    def __exit__(self, *exc):
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        return False


def _task(name):
    _keras()
    from keras_dlss.applications.registry import get_task, task_names

    if name not in task_names():
        raise UsageError(f"unknown application {name!r}. Available: {', '.join(task_names())}")
    return get_task(name)


def _positive(value):
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def _readable_path(value):
    if not os.path.exists(value):
        raise argparse.ArgumentTypeError(f"no such file or directory: {value!r}")
    if not os.access(value, os.R_OK):
        raise argparse.ArgumentTypeError(f"not readable: {value!r}")
    return value


# ----------------------------------------------------------------------------- list


@command("list", "list the applications and their default data")
def _configure_list(parser):
    parser.set_defaults(run=_run_list)


def _run_list(args):
    _keras()
    from keras_dlss.applications.registry import get_task, task_names

    for name in task_names():
        task = get_task(name)
        print(f"{name:<20} {task.summary}\n{'':<20} default data: {task.default_data}")
    return 0


# ----------------------------------------------------------------------------- train


@command(
    "train", "train an application and write model.keras, saved_model/, metrics.json, history.png"
)
def _configure_train(parser):
    parser.add_argument("app", help="application name (see `keras-dlss list`)")
    parser.add_argument(
        "--epochs",
        type=_positive,
        default=None,
        help="maximum epochs (early stopping may end sooner)",
    )
    parser.add_argument("--batch-size", type=_positive, default=None)
    parser.add_argument("--out", default=None, help="output directory (default: out/APP)")
    parser.add_argument(
        "--data",
        type=_readable_path,
        default=None,
        help="user data file instead of the embedded default",
    )
    parser.add_argument(
        "--no-xla", action="store_true", help="compile without XLA (jit_compile=False)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-export", action="store_true", help="skip writing saved_model/")
    parser.set_defaults(run=_run_train)


def _epoch_timer():
    """A callback recording wall time per epoch (the first includes compilation)."""
    keras = _keras()

    class EpochTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._start)

    return EpochTimer()


def _run_train(args):
    keras = _keras()
    from keras_dlss.export import export_and_compare

    task = _task(args.app)
    keras.utils.set_random_seed(args.seed)
    out = args.out or os.path.join("out", args.app)
    os.makedirs(out, exist_ok=True)
    data = task.load_data(args.data, seed=args.seed)
    model = task.build_model(data, jit_compile=not args.no_xla, seed=args.seed)
    monitor = task.monitor if data.validation is not None else "loss"
    timer = _epoch_timer()
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor=monitor, patience=task.patience, restore_best_weights=True
        ),
        timer,
    ]
    epochs = args.epochs or task.default_epochs
    start = time.perf_counter()
    history = task.fit(
        model,
        data,
        epochs=epochs,
        batch_size=args.batch_size or task.default_batch_size,
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,
    )
    train_seconds = time.perf_counter() - start
    metrics = task.evaluate(model, data)
    steady = timer.times[1:] or timer.times
    metrics.update(
        {
            "application": args.app,
            "epochs_run": len(timer.times),
            "train_seconds": round(train_seconds, 3),
            "first_epoch_seconds": round(timer.times[0], 3) if timer.times else None,
            "seconds_per_epoch": round(sum(steady) / len(steady), 4) if steady else None,
            "jit_compile": not args.no_xla,
            "data": data.info.get("source", args.data or "embedded default"),
        }
    )
    model_path = os.path.join(out, "model.keras")
    model.save(model_path)
    _save_json(os.path.join(out, "metadata.json"), data.info)
    sample = task.sample_inputs(data)
    _save_sample(os.path.join(out, "sample_inputs.npz"), sample)
    if not args.no_export:
        metrics["saved_model_max_abs_diff"] = export_and_compare(
            model, os.path.join(out, "saved_model"), sample, format="tf_saved_model"
        )
    artifacts = [model_path, _plot_history(history.history, os.path.join(out, "history.png"))]
    artifacts += task.save_artifacts(model, data, out)
    _save_json(os.path.join(out, "metrics.json"), metrics)
    artifacts.append(os.path.join(out, "metrics.json"))
    print(json.dumps(metrics, indent=2))
    print("wrote: " + ", ".join(a for a in artifacts if a))
    return 0


def _save_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o))


def _save_sample(path, sample):
    import numpy as np

    keras = _keras()
    flat = keras.tree.flatten(sample)
    np.savez(path, *[np.asarray(a) for a in flat])


def _load_sample(path):
    import numpy as np

    with np.load(path) as f:
        return [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


def _plot_history(history, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in history if not k.startswith("val_")]
    fig, axes = plt.subplots(
        1, max(1, len(names)), figsize=(4.5 * max(1, len(names)), 3.5), squeeze=False
    )
    for ax, name in zip(axes[0], names):
        ax.plot(range(1, len(history[name]) + 1), history[name], label=f"train {name}")
        if f"val_{name}" in history:
            ax.plot(
                range(1, len(history[f"val_{name}"]) + 1),
                history[f"val_{name}"],
                label=f"validation {name}",
            )
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- export


@command("export", "export a trained .keras model to SavedModel or ONNX and report parity")
def _configure_export(parser):
    parser.add_argument("model", type=_readable_path, help="path to MODEL.keras")
    parser.add_argument("--format", choices=["tf_saved_model", "onnx"], default="tf_saved_model")
    parser.add_argument(
        "--out", required=True, help="output path (directory for SavedModel, .onnx file for ONNX)"
    )
    parser.set_defaults(run=_run_export)


def _load_model(path):
    keras = _keras()
    import keras_dlss.applications  # noqa: F401  (registers serializable classes)
    import keras_dlss.layers  # noqa: F401

    if not str(path).endswith(".keras"):
        raise UsageError(f"expected a .keras model file, got {path!r}")
    try:
        return keras.saving.load_model(path)
    except Exception as e:
        raise UsageError(
            f"could not load {path!r}: {type(e).__name__}: {str(e).splitlines()[0]}"
        ) from None


def _sample_for(model, model_path):
    sample_path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "sample_inputs.npz")
    if os.path.exists(sample_path):
        flat = _load_sample(sample_path)
        return flat[0] if len(flat) == 1 else flat
    import numpy as np

    rng = np.random.default_rng(0)
    arrays = []
    for spec in model.inputs:
        shape = (4, *[d or 8 for d in spec.shape[1:]])
        if "int" in str(spec.dtype):
            arrays.append(rng.integers(0, 2, size=shape).astype(str(spec.dtype)))
        else:
            arrays.append(rng.normal(size=shape).astype(str(spec.dtype)))
    return arrays[0] if len(arrays) == 1 else arrays


def _run_export(args):
    from keras_dlss.export import export_and_compare

    model = _load_model(args.model)
    sample = _sample_for(model, args.model)
    diff = export_and_compare(model, args.out, sample, format=args.format)
    print(f"exported {args.model} -> {args.out} ({args.format})")
    print(f"max abs difference (Keras vs {args.format}) on a sample batch: {diff:.3g}")
    return 0


# ----------------------------------------------------------------------------- tune


@command("tune", "search hyperparameters with keras-tuner (random, grid, bayesian, hyperband, pbt)")
def _configure_tune(parser):
    parser.add_argument("app")
    parser.add_argument(
        "--tuner", choices=["random", "grid", "bayesian", "hyperband", "pbt"], default="random"
    )
    parser.add_argument("--trials", type=_positive, default=5)
    parser.add_argument("--epochs", type=_positive, default=None, help="epochs per trial")
    parser.add_argument("--batch-size", type=_positive, default=None)
    parser.add_argument("--out", default=None, help="output directory (default: out/tune-APP)")
    parser.add_argument("--data", type=_readable_path, default=None)
    parser.add_argument("--no-xla", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=_run_tune)


def _run_tune(args):
    keras = _keras()
    from keras_dlss.tuners import get_tuner

    task = _task(args.app)
    keras.utils.set_random_seed(args.seed)
    out = args.out or os.path.join("out", f"tune-{args.app}")
    os.makedirs(out, exist_ok=True)
    data = task.load_data(args.data, seed=args.seed)

    def hypermodel(hp):
        return task.build_model(
            data, jit_compile=not args.no_xla, seed=args.seed, **task.search_space(hp)
        )

    tuner = get_tuner(
        args.tuner,
        hypermodel,
        objective="val_loss",
        max_trials=args.trials,
        directory=out,
        project_name=args.tuner,
        seed=args.seed,
    )
    x, y = data.train
    tuner.search(
        x,
        y,
        validation_data=data.validation,
        epochs=args.epochs or min(task.default_epochs, 10),
        batch_size=args.batch_size or task.default_batch_size,
        verbose=0,
    )
    rows = _trials_table(tuner)
    best = tuner.get_best_hyperparameters(1)[0].values
    _save_json(os.path.join(out, "best_hyperparameters.json"), best)
    _write_table(os.path.join(out, "trials.csv"), rows)
    print(f"{len(rows)} trials ({args.tuner}); best hyperparameters: {json.dumps(best)}")
    print(
        f"wrote: {os.path.join(out, 'best_hyperparameters.json')}, {os.path.join(out, 'trials.csv')}"
    )
    return 0


def _trials_table(tuner):
    rows = []
    for trial in tuner.oracle.trials.values():
        rows.append(
            {
                "trial_id": trial.trial_id,
                "status": str(trial.status),
                "score": trial.score,
                **trial.hyperparameters.values,
            }
        )
    return sorted(
        rows, key=lambda r: (r["score"] is None, r["score"] if r["score"] is not None else 0)
    )


def _write_table(path, rows):
    import csv

    first = ["trial_id", "status", "score"]
    columns = first + sorted({k for r in rows for k in r} - set(first))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


# ----------------------------------------------------------------------------- predict / generate


@command("predict", "run a trained application on text inputs")
def _configure_predict(parser):
    parser.add_argument("app")
    parser.add_argument("model", type=_readable_path, help="path to MODEL.keras written by `train`")
    parser.add_argument("inputs", nargs="+", help="one or more inputs (quote each)")
    parser.set_defaults(run=_run_predict)


def _metadata_for(model_path):
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "metadata.json")
    if not os.path.exists(path):
        raise UsageError(
            f"no metadata.json beside {model_path!r}: train it with `keras-dlss train`"
        )
    with open(path) as f:
        return json.load(f)


def _run_predict(args):
    task = _task(args.app)
    model = _load_model(args.model)
    for line in task.predict(model, list(args.inputs), _metadata_for(args.model)):
        print(line)
    return 0


@command("generate", "sample from a trained generative application")
def _configure_generate(parser):
    parser.add_argument("app")
    parser.add_argument("model", type=_readable_path)
    parser.add_argument("--out", required=True, help="output file (e.g. sample.mid)")
    parser.add_argument("--primer", type=_readable_path, default=None)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--length", type=_positive, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=_run_generate)


def _run_generate(args):
    task = _task(args.app)
    model = _load_model(args.model)
    options = {
        "primer": args.primer,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "top_k": args.top_k,
        "seed": args.seed,
    }
    if args.length:
        options["length"] = args.length
    paths = task.generate(model, _metadata_for(args.model), args.out, **options)
    print("wrote: " + ", ".join(paths or [args.out]))
    return 0


# ----------------------------------------------------------------------------- entry point


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-dlss", description="Train, export and tune keras-dlss applications."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, spec in COMMANDS.items():
        spec["configure"](sub.add_parser(name, help=spec["help"]))
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse exits 2 with a usage line on bad options
    warnings.filterwarnings("ignore", message=".*np.object.*", category=FutureWarning)  # tf2onnx
    _keras()
    try:
        return args.run(args)
    except (UsageError, ValueError, FileNotFoundError, NotImplementedError) as e:
        print(f"keras-dlss {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
