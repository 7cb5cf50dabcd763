"""Residual connections vs depth: the shape of He et al. (2016) Figures 1 and 6, on `shapes`.

Trains PlainNet-20, PlainNet-56, ResNet-20 and ResNet-56 (post-activation blocks,
batch norm, option-A shortcuts: the paper's CIFAR networks; the plain twins have
exactly the same weights) with the same data, seed, optimizer and epochs, and
prints side by side:

- the training error after each epoch (1 - the running accuracy of the epoch,
  as the paper's curves) and the final error on held-out images;
- the gradient norm of every convolution kernel at initialization, on one
  batch: how much of the loss's gradient reaches the first layers (the
  vanishing- or exploding-gradient measurement: with batch norm, a deep plain
  stack's gradients explode toward the input), with a PNG of both.

Expected shape: the deeper plain net trains *worse* than the shallower one
(degradation), the deeper ResNet no worse than the shallower one.

    .venv/bin/python benchmarks/residual_depth.py [--n 2000] [--epochs 5] [--image-size 16]
"""

import argparse
import os
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PLOT = os.path.join(os.path.dirname(__file__), "..", "docs", "images", "residual_depth.png")


def build(kind, depth, image_size, learning_rate):
    import keras

    from keras_dlss.applications import PlainNet, ResNet

    keras.utils.set_random_seed(0)
    cls = ResNet if kind == "ResNet" else PlainNet
    return cls(depth, preactivation=False, input_shape=(image_size, image_size, 3),
               learning_rate=learning_rate)  # fmt: skip


def kernel_gradient_norms(model, x, y):
    """L2 norm of d(loss)/d(kernel) for each convolution, input to output, at the current weights."""
    import keras
    import tensorflow as tf

    kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    return [float(tf.norm(g)) for g in tape.gradient(loss, kernels)]


def run_arm(kind, depth, data, args):
    (x, y), (x_test, y_test) = data
    model = build(kind, depth, args.image_size, args.learning_rate)
    norms = kernel_gradient_norms(model, x[: args.batch_size], y[: args.batch_size])
    model.compile(jit_compile=not args.no_xla)
    start = time.perf_counter()
    history = model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
    seconds = time.perf_counter() - start
    test_error = 1 - model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    train_error = [1 - a for a in history.history["accuracy"]]
    return {"train_error": train_error, "test_error": test_error, "norms": norms,
            "seconds": seconds}  # fmt: skip


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=90)
    for name, r in results.items():
        style = "--" if name.startswith("Plain") else "-"
        epochs = np.arange(1, len(r["train_error"]) + 1)
        left.plot(epochs, 100 * np.array(r["train_error"]), style, marker="o", label=name)
        right.semilogy(np.arange(1, len(r["norms"]) + 1), r["norms"], style, label=name)
    left.set(xlabel="epoch", ylabel="training error (%)", title="training error")
    right.set(xlabel="convolution (input to output)", ylabel="||dL/dW|| at init",
              title="gradient norm per layer at initialization")  # fmt: skip
    left.legend()
    right.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="training images")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--depths", default="20,56")
    parser.add_argument("--no-xla", action="store_true")
    parser.add_argument("--plot", default=PLOT)
    args = parser.parse_args()

    from keras_dlss.datasets import shapes

    data = (shapes(args.n, args.image_size, seed=0), shapes(1000, args.image_size, seed=1))
    depths = [int(d) for d in args.depths.split(",")]
    results = {}
    for kind in ("PlainNet", "ResNet"):
        for depth in depths:
            results[f"{kind}-{depth}"] = r = run_arm(kind, depth, data, args)
            print(f"{kind}-{depth}: {r}", flush=True)

    print(
        f"shapes: {args.n} training / 1000 test images at {args.image_size}x{args.image_size}, "
        f"batch {args.batch_size}, Nesterov SGD lr {args.learning_rate}, {args.epochs} epochs, "
        f"post-activation blocks, batch norm, XLA {not args.no_xla}"
    )
    epochs = " | ".join(f"ep {e + 1}" for e in range(args.epochs))
    print(f"| network | training error: {epochs} | test error | train s |")
    print("|---|" + "---|" * (args.epochs + 2))
    for name, r in results.items():
        errors = " | ".join(f"{100 * e:.1f}%" for e in r["train_error"])
        print(f"| {name} | {errors} | {100 * r['test_error']:.1f}% | {r['seconds']:.0f} |")
    print()
    print("Gradient norm of each convolution kernel at initialization (one batch):")
    print("| network | first conv | middle conv | last conv | first / last |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        g = r["norms"]
        print(f"| {name} | {g[0]:.3g} | {g[len(g) // 2]:.3g} | {g[-1]:.3g} | {g[0] / g[-1]:.3g} |")
    print(f"wrote {plot(results, args.plot)}")


if __name__ == "__main__":
    main()
