"""Noise stability (Arora et al. 2018): trained vs randomly initialized digits MLP, per layer.

Gaussian noise of relative norm `--noise-scale` is injected at each hidden
layer's output; the table gives the mean relative change at the output
(`metrics.noise_stability`), for the same architecture before and after
training on scikit-learn's bundled 8x8 digits.

    .venv/bin/python benchmarks/noise_stability.py [--epochs 30] [--noise-scale 0.1] \
        [--png docs/images/noise_stability.png]

`--png` also sweeps the noise scale (0.01 to 1) and plots, per layer, the
relative output change of both networks against it.
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def sweep(model, x, names, scales):
    from keras_dlss.metrics import noise_stability

    return {s: noise_stability(model, x, names, noise_scale=s) for s in scales}


def plot(path, names, scales, before, after, noise_scale, accuracy):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    pos = np.arange(len(names))
    at = scales.index(noise_scale) if noise_scale in scales else None
    first = before[scales[at]] if at is not None else None
    if first is not None:
        axes[0].bar(pos - 0.2, [first[n] for n in names], 0.4, label="random init")
        axes[0].bar(pos + 0.2, [after[scales[at]][n] for n in names], 0.4, label="trained")
        axes[0].axhline(noise_scale, color="k", ls="--", lw=1, label="injected (no attenuation)")
        axes[0].set_xticks(pos, names)
        axes[0].set(
            xlabel="noise injected after layer",
            ylabel="relative output change",
            title=f"Noise scale {noise_scale:g}",
            ylim=(0, 1.4 * noise_scale),
        )
        axes[0].legend(fontsize=7, loc="upper center", ncol=3)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, name in enumerate(names):
        for curves, style, label in ((before, ":", "random"), (after, "-", "trained")):
            axes[1].plot(
                scales,
                [curves[s][name] / s for s in scales],
                style,
                marker="o",
                ms=3,
                color=colours[i],
                label=f"{name}, {label}",
            )
    axes[1].set(
        xscale="log",
        xlabel="injected noise scale ‖ε‖/‖h‖",
        ylabel="output change / noise scale",
        title="Attenuation by the layers above",
        ylim=(0, 1.05),
    )
    axes[1].legend(fontsize=6, ncol=2)
    fig.suptitle(
        f"Noise stability of a digits MLP (Arora et al. 2018): random init vs trained "
        f"(test acc {accuracy:.3f})",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--noise-scale", type=float, default=0.1)
    parser.add_argument("--png", default=None, help="write the figure to this PNG path")
    args = parser.parse_args()

    import keras
    from sklearn.datasets import load_digits

    from keras_dlss.metrics import noise_stability

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    keras.utils.set_random_seed(0)
    layers = [keras.Input((64,))]
    layers += [keras.layers.Dense(128, activation="relu", name=f"dense_{i}") for i in range(1, 4)]
    model = keras.Sequential([*layers, keras.layers.Dense(10, name="logits")])
    names = ["dense_1", "dense_2", "dense_3"]
    before = noise_stability(model, x[1400:], names, noise_scale=args.noise_scale)
    scales = [0.01, 0.03, 0.1, 0.3, 1.0]
    sweep_before = sweep(model, x[1400:], names, scales) if args.png else None
    model.compile(
        "adam",
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=True,
    )
    model.fit(x[:1400], y[:1400], epochs=args.epochs, batch_size=64, verbose=0)
    accuracy = model.evaluate(x[1400:], y[1400:], verbose=0)[1]
    after = noise_stability(model, x[1400:], names, noise_scale=args.noise_scale)
    print(f"digits MLP 64-128-128-128-10, noise scale {args.noise_scale}, test acc {accuracy:.3f}")
    print("| noise injected after | random init | trained |")
    print("|---|---|---|")
    for name in names:
        print(f"| {name} | {before[name]:.4f} | {after[name]:.4f} |")
    if args.png:
        sweep_after = sweep(model, x[1400:], names, scales)
        plot(args.png, names, scales, sweep_before, sweep_after, args.noise_scale, accuracy)


if __name__ == "__main__":
    main()
