"""TCAV on a `shapes` classifier with planted concepts (Kim et al. 2018).

The training data of a 4-class `shapes` CNN (16x16) carries two planted
shortcuts: 90% of the circles (class 0) are tinted red and 90% of the squares
(class 1) are overlaid with horizontal stripes. A concept is a set of images of
the *other* classes with the same treatment ("red tint", "stripes"); a
"random" concept is a set of untouched images. `interpret.tcav` tests each
concept against 10 random sets (two-sided t-test, Bonferroni correction) at
`pool1`, the first block's output: a layer followed only by global pooling and
a dense layer would make the directional derivative the same for every input
(the logit is linear in it), so every TCAV score would be 0 or 1. The
planted concept should be significant for its class, the random one should not.

    .venv/bin/python benchmarks/tcav_shapes.py [--epochs 20]
"""

import argparse
import os

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def red(x):
    out = x.copy()
    out[..., 0] = 0.5 + 0.5 * out[..., 0]
    out[..., 1:] *= 0.6
    return out


def stripes(x):
    out = x.copy()
    out[:, ::4] = 0.5 * out[:, ::4] + 0.5
    out[:, 1::4] = 0.5 * out[:, 1::4] + 0.5
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--set-size", type=int, default=50)
    parser.add_argument("--random-sets", type=int, default=10)
    args = parser.parse_args()

    import keras

    from keras_dlss import interpret
    from keras_dlss.datasets import shapes

    rng = np.random.default_rng(0)
    x, y = shapes(2400, image_size=16, num_classes=4, seed=1)
    planted = rng.random(len(x)) < 0.9
    x[(y == 0) & planted] = red(x[(y == 0) & planted])
    x[(y == 1) & planted] = stripes(x[(y == 1) & planted])
    x_train, y_train = x[:1600], y[:1600]
    held_x, held_y = x[1600:], y[1600:]

    # Concept material: untouched images of classes 2 and 3, generated separately.
    others, other_y = shapes(1200, image_size=16, num_classes=4, seed=2)
    others = others[other_y >= 2]
    n = args.set_size
    concepts = {
        "red tint": red(others[:n]),
        "stripes": stripes(others[n : 2 * n]),
        "random images": others[2 * n : 3 * n],
    }
    pool = others[3 * n :]
    random_sets = [pool[rng.choice(len(pool), n, replace=False)] for _ in range(args.random_sets)]

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(name="pool"),
            keras.layers.Dense(4),
        ]
    )
    model.compile(
        "adam",
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=True,
    )
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=64, verbose=0)
    accuracy = model.evaluate(held_x, held_y, verbose=0)[1]
    print(
        f"shapes 16x16, 4 classes, held-out accuracy {accuracy:.3f}; layer pool1; "
        f"{n} images per concept, {args.random_sets} random sets"
    )
    print("| class | concept | TCAV score (mean ± std over random sets) | p-value | significant |")
    print("|---|---|---|---|---|")
    for cls, name in ((0, "circle (planted: red)"), (1, "square (planted: stripes)")):
        inputs = held_x[held_y == cls][:64]
        result = interpret.tcav(model, inputs, cls, "pool1", concepts, random_sets)
        for concept in concepts:
            r = result[concept]
            print(
                f"| {name} | {concept} | {r['mean']:.3f} ± {r['std']:.3f} | "
                f"{r['p_value']:.2g} | {'yes' if r['significant'] else 'no'} |"
            )


if __name__ == "__main__":
    main()
