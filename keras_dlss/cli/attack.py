"""`keras-dlss attack`: clean vs robust accuracy of a saved classifier on its test data.

The application (and so its test split) is read from `metrics.json` beside the
model (written by `train`), or given with `--app`. Each `--eps` value is one
row: accuracy on the adversarial examples FGSM or PGD finds within that radius.
Inputs are attacked in their own value range (`--clip-min/--clip-max`, default
the test data's minimum and maximum).
"""

import json
import os

from keras_dlss.cli._common import (
    UsageError,
    command,
    get_task,
    load_model,
    positive_int,
    readable_path,
)


def _eps_list(value):
    import argparse

    try:
        values = [float(v) for v in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {value!r}"
        ) from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"eps must be >= 0, got {value!r}")
    return values


@command("attack", "clean vs robust accuracy under FGSM or PGD on the application's test data")
def configure(parser):
    parser.add_argument("model", type=readable_path, help="path to MODEL.keras written by `train`")
    parser.add_argument("--app", default=None, help="application (default: from metrics.json)")
    parser.add_argument("--method", choices=("fgsm", "pgd"), default="pgd")
    parser.add_argument("--eps", type=_eps_list, required=True, help="radius or radii: 0.05,0.1")
    parser.add_argument("--steps", type=positive_int, default=20, help="PGD steps")
    parser.add_argument("--norm", choices=("inf", "2"), default="inf")
    parser.add_argument("--limit", type=positive_int, default=None, help="test examples to use")
    parser.add_argument("--batch-size", type=positive_int, default=256)
    parser.add_argument("--clip-min", type=float, default=None)
    parser.add_argument("--clip-max", type=float, default=None)
    parser.set_defaults(run=run)


def _application(args):
    if args.app:
        return args.app
    path = os.path.join(os.path.dirname(os.path.abspath(args.model)), "metrics.json")
    try:
        with open(path) as f:
            return json.load(f)["application"]
    except (OSError, KeyError, ValueError):
        raise UsageError(f"no application recorded beside {args.model!r}: pass --app") from None


def run(args):
    import numpy as np
    from keras import ops

    from keras_dlss import adversarial

    task = get_task(_application(args))
    model = load_model(args.model)
    x, y = task.load_data(None, seed=0).test
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise UsageError(f"application {task.name!r} has non-float inputs: nothing to perturb")
    x, y = x[: args.limit].astype("float32"), np.asarray(y[: args.limit]).astype("int64")
    lo = float(x.min()) if args.clip_min is None else args.clip_min
    hi = float(x.max()) if args.clip_max is None else args.clip_max
    options = {"clip_min": lo, "clip_max": hi}
    if args.method == "pgd":
        options.update(steps=args.steps, norm=2 if args.norm == "2" else "inf", random_start=False)
    attack = adversarial.fgsm if args.method == "fgsm" else adversarial.pgd

    def accuracy(inputs):
        pred = np.asarray(ops.convert_to_numpy(model.predict(inputs, verbose=0)))
        return float((pred.argmax(-1) == y).mean())

    print(f"{task.name}: {len(x)} test examples, {args.method}, range [{lo:g}, {hi:g}]")
    print(f"{'eps':>8}  {'accuracy':>8}")
    print(f"{'clean':>8}  {accuracy(x):8.4f}")
    for eps in args.eps:
        batches = [
            ops.convert_to_numpy(
                attack(
                    model, x[i : i + args.batch_size], y[i : i + args.batch_size], eps, **options
                )
            )
            for i in range(0, len(x), args.batch_size)
        ]
        print(f"{eps:8g}  {accuracy(np.concatenate(batches)):8.4f}")
    return 0
