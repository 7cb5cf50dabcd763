"""`keras-dlss train`: fit an application with early stopping and write its artifacts.

Writes `model.keras`, `saved_model/` (with a parity check against Keras),
`metrics.json` (test metrics and timings), `history.png`, `metadata.json`,
`sample_inputs.npz` and whatever the task adds (`Task.save_artifacts`).
"""

import json
import os
import sys
import time

from keras_dlss.cli import artifacts
from keras_dlss.cli._common import command, get_task, import_keras, positive_int, readable_path


@command(
    "train", "train an application and write model.keras, saved_model/, metrics.json, history.png"
)
def configure(parser):
    parser.add_argument("app", help="application name (see `keras-dlss list`)")
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help="maximum epochs (early stopping may end sooner)",
    )
    parser.add_argument("--batch-size", type=positive_int, default=None)
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
    parser.add_argument("--no-export", action="store_true", help="skip writing saved_model/")
    parser.set_defaults(run=run)


def run(args):
    keras = import_keras()
    task = get_task(args.app)
    keras.utils.set_random_seed(args.seed)
    out = args.out or os.path.join("out", args.app)
    os.makedirs(out, exist_ok=True)
    data = task.load_data(args.data, seed=args.seed)
    model = task.build_model(data, jit_compile=not args.no_xla, seed=args.seed)
    history, timing = _fit(keras, task, model, data, args)
    metrics = task.evaluate(model, data)
    metrics.update(
        {
            "application": args.app,
            **timing,
            "jit_compile": not args.no_xla,
            "data": data.info.get("source", args.data or "embedded default"),
        }
    )
    written = _write_artifacts(task, model, data, history, metrics, out, export=not args.no_export)
    print(json.dumps(metrics, indent=2))
    print("wrote: " + ", ".join(a for a in written if a))
    return 0


def _fit(keras, task, model, data, args):
    """Fits with early stopping; returns the `History` and the timings for `metrics.json`."""
    monitor = task.monitor if data.validation is not None else "loss"
    timer = _epoch_timer(keras)
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor=monitor, patience=task.patience, restore_best_weights=True
        ),
        timer,
    ]
    start = time.perf_counter()
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
    }


def _epoch_timer(keras):
    """A callback recording wall time per epoch (the first includes compilation)."""

    class EpochTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._start)

    return EpochTimer()


def _write_artifacts(task, model, data, history, metrics, out, export=True):
    """Saves the model and its companions into `out`; adds the SavedModel parity to `metrics`."""
    from keras_dlss.export import export_and_compare

    model_path = os.path.join(out, "model.keras")
    model.save(model_path)
    artifacts.save_json(os.path.join(out, artifacts.METADATA), data.info)
    sample = task.sample_inputs(data)
    artifacts.save_sample(os.path.join(out, artifacts.SAMPLE_INPUTS), sample)
    if export:
        metrics["saved_model_max_abs_diff"] = export_and_compare(
            model, os.path.join(out, "saved_model"), sample, format="tf_saved_model"
        )
    written = [
        model_path,
        artifacts.plot_history(history.history, os.path.join(out, artifacts.HISTORY_PLOT)),
    ]
    written += task.save_artifacts(model, data, out)
    artifacts.save_json(os.path.join(out, artifacts.METRICS), metrics)
    written.append(os.path.join(out, artifacts.METRICS))
    return written
