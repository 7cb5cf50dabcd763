"""Batch norm vs group norm vs group norm + weight standardization as the batch shrinks.

The shape of Wu & He (2018), Figure 1: the same ResNet trained with
BN, GN and GN + WS (Qiao et al. 2019) at per-replica batch 32, 16, 8, 4 and 2,
for the same number of epochs, with the learning rate scaled linearly with the
batch (`lr * B / 32`, as Wu & He do). Prints the validation error of every cell
side by side and writes a PNG. The default data is scikit-learn's bundled
digits at 16x16 (1,000 training / 797 validation images), on which a small
ResNet generalizes within a few epochs on a CPU; `--data shapes` needs many more
images and epochs than a CPU run affords before its validation error leaves chance.

Batch norm's moving averages use momentum 0.9 here (PyTorch's 0.1, the setting
of Wu & He), not Keras's 0.99: in a run of a few hundred steps the 0.99 average
would still remember its initial values and penalize BN at *every* batch size.

Expected: BN's error rises sharply as the batch shrinks; GN stays within about a
point of its batch-32 error.

    .venv/bin/python benchmarks/group_norm_batch_size.py [--data digits] [--epochs 3] [--depth 20]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PLOT = os.path.join(os.path.dirname(__file__), "..", "docs", "images", "group_norm_batch_size.png")
ARMS = {
    "BN": {"norm": "batch"},
    "GN": {"norm": "group"},
    "GN+WS": {"norm": "group", "weight_standardization": True},
}


def load(name, n, image_size):
    """(train, validation) splits: scikit-learn's digits (first `n` / the rest) or `shapes`."""
    from keras_dlss.datasets import digits, shapes

    if name == "digits":
        x, y = digits(image_size)
        return (x[:n], y[:n]), (x[n:], y[n:])
    return shapes(n, image_size, seed=0), shapes(1000, image_size, seed=1)


def validation_error(arm, batch_size, data, args):
    import keras

    from keras_dlss.applications import ResNet

    (x, y), (x_val, y_val) = data
    keras.utils.set_random_seed(0)
    model = ResNet(
        args.depth,
        groups=args.groups,
        input_shape=x.shape[1:],
        learning_rate=args.learning_rate * batch_size / 32,
        **ARMS[arm],
    )
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    model.compile(jit_compile=not args.no_xla)
    model.fit(x, y, epochs=args.epochs, batch_size=batch_size, verbose=0)
    accuracy = model.evaluate(x_val, y_val, batch_size=100, verbose=0, return_dict=True)
    return 1 - accuracy["accuracy"]


def plot(batch_sizes, errors, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=90)
    for arm, row in errors.items():
        ax.plot(batch_sizes, [100 * row[b] for b in batch_sizes], marker="o", label=arm)
    ax.set_xscale("log", base=2)
    ax.set_xticks(batch_sizes, [str(b) for b in batch_sizes])
    ax.invert_xaxis()
    ax.set(xlabel="batch size per replica", ylabel="validation error (%)",
           title="BN vs GN as the batch shrinks")  # fmt: skip
    ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("digits", "shapes"), default="digits")
    parser.add_argument("--n", type=int, default=1000, help="training images")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--groups", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=0.05, help="at batch 32")
    parser.add_argument("--batch-sizes", default="32,16,8,4,2")
    parser.add_argument("--no-xla", action="store_true", help="graph mode: faster to trace")
    parser.add_argument("--plot", default=PLOT)
    args = parser.parse_args()

    data = load(args.data, args.n, args.image_size)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    errors = {arm: {} for arm in ARMS}
    start = time.perf_counter()
    for batch_size in batch_sizes:
        for arm in ARMS:
            errors[arm][batch_size] = validation_error(arm, batch_size, data, args)
            print(f"batch {batch_size} {arm}: {errors[arm][batch_size]:.3f}", flush=True)
    print(
        f"ResNet-{args.depth} (pre-activation, {args.groups} groups), {args.data}: "
        f"{len(data[0][0])} training / {len(data[1][0])} validation images at "
        f"{args.image_size}x{args.image_size}, {args.epochs} epochs, "
        f"Nesterov SGD lr {args.learning_rate} x B/32, XLA {not args.no_xla}; {time.perf_counter() - start:.0f} s"
    )
    print("| batch per replica | BN | GN | GN+WS | GN - BN |")
    print("|---|---|---|---|---|")
    for b in batch_sizes:
        bn, gn, ws = (100 * errors[arm][b] for arm in ARMS)
        print(f"| {b} | {bn:.1f}% | {gn:.1f}% | {ws:.1f}% | {gn - bn:+.1f} |")
    first, last = batch_sizes[0], batch_sizes[-1]
    for arm in ARMS:
        rise = 100 * (errors[arm][last] - errors[arm][first])
        print(f"{arm}: error at batch {last} minus batch {first}: {rise:+.1f} points")
    print(f"wrote {plot(batch_sizes, errors, args.plot)}")


if __name__ == "__main__":
    main()
