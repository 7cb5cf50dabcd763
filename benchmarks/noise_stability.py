"""Noise stability (Arora et al. 2018): trained vs randomly initialized digits MLP, per layer.

Gaussian noise of relative norm `--noise-scale` is injected at each hidden
layer's output; the table gives the mean relative change at the output
(`metrics.noise_stability`), for the same architecture before and after
training on scikit-learn's bundled 8x8 digits.

    .venv/bin/python benchmarks/noise_stability.py [--epochs 30] [--noise-scale 0.1]
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--noise-scale", type=float, default=0.1)
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


if __name__ == "__main__":
    main()
