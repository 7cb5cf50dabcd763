"""`keras-dlss tune`: hyperparameter search with keras-tuner over an application's space."""

import json
import os

from keras_dlss.cli import artifacts
from keras_dlss.cli._common import command, get_task, import_keras, positive_int, readable_path

TUNERS = ["random", "grid", "bayesian", "hyperband", "pbt"]


@command("tune", "search hyperparameters with keras-tuner (random, grid, bayesian, hyperband, pbt)")
def configure(parser):
    parser.add_argument("app")
    parser.add_argument("--tuner", choices=TUNERS, default="random")
    parser.add_argument("--trials", type=positive_int, default=5)
    parser.add_argument("--epochs", type=positive_int, default=None, help="epochs per trial")
    parser.add_argument("--batch-size", type=positive_int, default=None)
    parser.add_argument("--out", default=None, help="output directory (default: out/tune-APP)")
    parser.add_argument("--data", type=readable_path, default=None)
    parser.add_argument("--no-xla", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=run)


def run(args):
    keras = import_keras()
    from keras_dlss.tuners import get_tuner

    task = get_task(args.app)
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
    artifacts.save_json(os.path.join(out, "best_hyperparameters.json"), best)
    _write_table(os.path.join(out, "trials.csv"), rows)
    print(f"{len(rows)} trials ({args.tuner}); best hyperparameters: {json.dumps(best)}")
    print(
        f"wrote: {os.path.join(out, 'best_hyperparameters.json')}, {os.path.join(out, 'trials.csv')}"
    )
    return 0


def _trials_table(tuner):
    """One row per trial (id, status, score, hyperparameters), best score first."""
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
