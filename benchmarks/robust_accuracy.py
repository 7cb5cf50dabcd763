"""Robust accuracy on digits: a standard vs an adversarially trained MLP (Madry et al. 2018).

Both models (64-128-10, softmax) train on scikit-learn's bundled 8x8 digits
(pixels in [0, 1]) for the same number of epochs; the robust one with
`AdversarialTrainingModel` (PGD-7, L∞, ε_train). The table gives clean, FGSM
and PGD-20 (one random start) accuracy on the held-out split at several ε.
It also writes integrated-gradients and saliency heat maps of both models
(`--png`), since a robust model's gradients are known to look more like the
digit (Tsipras et al. 2019).

    .venv/bin/python benchmarks/robust_accuracy.py [--epochs 30] [--eps 0.05,0.1,0.2]
        [--png docs/images/interpret_digits.png]
    .venv/bin/python benchmarks/robust_accuracy.py --data shapes --epochs 10 --eps 0.01,0.02,0.04
        --train-eps 0.02 --adv-epochs 3 --warm-start    # a CNN on 16x16 generated `shapes`

On `shapes` (4 classes, 8,000 training images, 600 test images from another
seed) the CNN standardizes each image first (zero mean, unit RMS over its
pixels): shape and background colours are random and only their contrast
carries the class, and without it a small CNN stays near chance. It has two
conv-conv-pool stages and a dense layer on the flattened map (a global average
pool after two stages loses the shape). `--warm-start --adv-epochs 3`
fine-tunes the standard model on PGD-7 examples (adversarial fine-tuning)
instead of training a second CNN from scratch, which costs 8x a clean epoch per
epoch on CPU. On `shapes`, `--png` draws accuracy against ε (FGSM and PGD-20, both
models); `--from-log LOG --png PATH` draws it from the table a finished run
printed, without training.
"""

import argparse
import os
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def standardize(images):
    from keras import ops

    centred = images - ops.mean(images, axis=(1, 2), keepdims=True)
    return centred / ops.sqrt(ops.mean(ops.square(centred), axis=(1, 2, 3), keepdims=True) + 1e-3)


def shapes_cnn():
    """The `shapes` arm's CNN (see the module docstring)."""
    import keras

    return keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Lambda(standardize),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )


def read_table(log):
    """(title line, columns, {model: row}) of the last markdown table in a run's log."""
    lines = [line.rstrip("\n") for line in open(log)]
    start = max(i for i, line in enumerate(lines) if line.startswith("| model |"))
    columns = [c.strip() for c in lines[start].strip("|").split("|")][1:]
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(columns, (float(c) for c in cells[1:])))
    return lines[start - 1], columns, rows


def plot_curves(path, title, rows, train_eps=None):
    """Accuracy against ε: one colour per model, FGSM dashed, PGD-20 solid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for (name, row), colour in zip(rows.items(), ("tab:blue", "tab:orange")):
        for attack, style in (("FGSM", "--"), ("PGD-20", "-")):
            eps = sorted(float(c.split()[1]) for c in row if c.startswith(attack + " "))
            values = [row["clean"]] + [row[f"{attack} {e:g}"] for e in eps]
            ax.plot([0.0, *eps], values, style, marker="o", color=colour, label=f"{name}, {attack}")
    ax.set(
        xlabel="ε (L∞, pixels in [0, 1])",
        ylabel="test accuracy",
        title=title,
        ylim=(0, 1),
    )
    ax.axhline(0.25, color="grey", lw=0.8, ls=":", label="chance (4 classes)")
    if train_eps is not None:
        ax.axvline(train_eps, color="k", lw=0.8, ls="-.", label=f"training ε = {train_eps:g}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--eps", default="0.05,0.1,0.2")
    parser.add_argument("--train-eps", type=float, default=0.1)
    parser.add_argument("--png", default=None)
    parser.add_argument(
        "--data",
        default="digits",
        choices=("digits", "shapes"),
        help="digits: the MLP on 8x8 digits; shapes: a small CNN on 16x16 `shapes` (4 classes)",
    )
    parser.add_argument("--examples", type=int, default=8000, help="shapes only: training images")
    parser.add_argument("--test", type=int, default=600, help="shapes only: test images")
    parser.add_argument(
        "--adv-epochs", type=int, default=None, help="epochs of adversarial training (--epochs)"
    )
    parser.add_argument(
        "--warm-start",
        action="store_true",
        help="adversarial model starts from the trained standard model (adversarial fine-tuning)",
    )
    parser.add_argument("--from-log", default=None, help="shapes: plot a finished run's table")
    args = parser.parse_args()
    if args.from_log:
        if not args.png:
            parser.error("--from-log needs --png")
        heading, _, rows = read_table(args.from_log)
        train_eps = float(heading.rsplit("train eps", 1)[1]) if "train eps" in heading else None
        title = "Robust accuracy on shapes: standard vs adversarial CNN"
        plot_curves(args.png, title, rows, train_eps)
        return

    import keras
    from keras import ops
    from sklearn.datasets import load_digits

    from keras_dlss import adversarial, interpret

    if args.data == "digits":
        x, y = load_digits(return_X_y=True)
        x = (x / 16.0).astype("float32")
        perm = np.random.default_rng(0).permutation(len(x))
        x, y = x[perm], y[perm]
        x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]
    else:
        from keras_dlss.datasets import shapes

        # Another seed for the test images, so none of them is a training image.
        x_train, y_train = shapes(args.examples, image_size=16, num_classes=4, seed=0)
        x_test, y_test = shapes(args.test, image_size=16, num_classes=4, seed=1)

    def net():
        if args.data == "shapes":
            return shapes_cnn()
        return keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )

    keras.utils.set_random_seed(0)
    standard = net()
    robust_net = net()
    robust = adversarial.AdversarialTrainingModel(robust_net, eps=args.train_eps, steps=7, seed=0)
    rows = {}
    adv_epochs = args.epochs if args.adv_epochs is None else args.adv_epochs
    robust_name = "adversarial (PGD-7)" if not args.warm_start else "adversarial fine-tune (PGD-7)"
    for name, model in (("standard", standard), (robust_name, robust)):
        if model is robust and args.warm_start:
            robust_net.set_weights(standard.get_weights())
        model.compile("adam", "sparse_categorical_crossentropy", jit_compile=True)
        start = time.perf_counter()
        epochs = args.epochs if model is standard else adv_epochs
        model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
        seconds = time.perf_counter() - start
        print(f"{name}: fit {seconds:.1f} s", flush=True)

        def acc(inputs, model=model):
            return float((np.asarray(model.predict(inputs, verbose=0)).argmax(1) == y_test).mean())

        row = {"clean": acc(x_test), "fit s": seconds}
        for eps in (float(e) for e in args.eps.split(",")):
            row[f"FGSM {eps:g}"] = acc(
                ops.convert_to_numpy(adversarial.fgsm(model, x_test, y_test, eps))
            )
            pgd = adversarial.pgd(model, x_test, y_test, eps, steps=20, seed=0)
            row[f"PGD-20 {eps:g}"] = acc(ops.convert_to_numpy(pgd))
        rows[name] = row
    columns = list(next(iter(rows.values())))
    print(
        f"{args.data}, {len(x_train)} train / {len(x_test)} test examples, {args.epochs} epochs "
        f"(adversarial: {adv_epochs}{', warm start' if args.warm_start else ''}), "
        f"train eps {args.train_eps}"
    )
    print("| model | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, row in rows.items():
        print(
            f"| {name} | "
            + " | ".join(f"{row[c]:.3f}" if c != "fit s" else f"{row[c]:.1f}" for c in columns)
            + " |"
        )

    if args.png and args.data == "shapes":
        title = "Robust accuracy on shapes: standard vs adversarial CNN"
        plot_curves(args.png, title, rows, args.train_eps)
    if args.png and args.data == "digits":
        pick = x_test[:6]
        labels = y_test[:6]
        maps, titles = [], []
        for name, model in (("standard", standard), ("robust", robust_net)):
            ig, _ = interpret.integrated_gradients(model, pick, labels, steps=32)
            maps.append(np.abs(ops.convert_to_numpy(ig)))
            titles += [f"{name} IG, {t}" for t in labels]
        images = np.concatenate([pick, pick]).reshape(-1, 8, 8)
        interpret.plot_attributions(
            images, np.concatenate(maps).reshape(-1, 8, 8), args.png, titles=titles, columns=6
        )
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
