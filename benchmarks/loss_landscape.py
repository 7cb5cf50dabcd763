"""Loss-landscape slices of a digits MLP (Li et al. 2018; Goodfellow et al. 2015).

Trains a 64-128-10 MLP on scikit-learn's bundled digits and prints the loss
along the line from its initial to its trained weights (1-D interpolation)
and the range of the loss on a filter-normalized random plane around the
trained weights; writes the plane's contour plot.

    .venv/bin/python benchmarks/loss_landscape.py [--png docs/images/loss_landscape_digits.png]
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--png", default=None)
    args = parser.parse_args()

    import keras
    from sklearn.datasets import load_digits

    from keras_dlss import interpret

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    initial = model.get_weights()
    model.compile("adam", "sparse_categorical_crossentropy", jit_compile=True)
    model.fit(x[:1400], y[:1400], epochs=args.epochs, batch_size=64, verbose=0)
    trained = model.get_weights()
    model.set_weights(initial)
    line = interpret.loss_landscape(
        model,
        x[:1400],
        y[:1400],
        loss="sparse_categorical_crossentropy",
        target_weights=trained,
        steps=11,
        span=0.4,
    )
    print(
        "| alpha (0 = init, 1 = trained) | " + " | ".join(f"{a:.2f}" for a in line["alphas"]) + " |"
    )
    print("|---" * (len(line["alphas"]) + 1) + "|")
    print("| train loss | " + " | ".join(f"{v:.3f}" for v in line["losses"]) + " |")
    model.set_weights(trained)
    plane = interpret.loss_landscape(
        model,
        x[:1400],
        y[:1400],
        loss="sparse_categorical_crossentropy",
        dimensions=2,
        steps=args.steps,
        span=1.0,
        path=args.png,
    )
    losses = plane["losses"]
    centre = losses[args.steps // 2, args.steps // 2]
    print(
        f"plane: loss at the trained weights {centre:.4f}, min {losses.min():.4f}, "
        f"max {losses.max():.4f} over alpha, beta in [-1, 1]"
    )
    if args.png:
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
