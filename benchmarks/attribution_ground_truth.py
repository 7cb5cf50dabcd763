"""Attribution methods scored against planted ground truth, and the randomization sanity check.

Two synthetic tasks whose informative inputs are known by construction:

* tabular: 24 standard-normal features; the label depends only on features
  {0..5} (`sign(x0 + x1·x2 - x3 + sin(2·x4) + 0.5·x5²-0.5)`), the other 18 are noise.
* images: 12x12 noise images; the class (one of 4) is which quadrant holds a
  bright 4x4 square, so the informative pixels of each image are that square.

An MLP (tabular) and a small CNN (images) are trained; for every test example
each method's top-k features (k = the number of informative ones) are
compared with the planted set: precision@k, averaged. A uniformly random
ranking scores k/D. Then the model-randomization check (Adebayo et al. 2018)
re-initializes the weights from the top and reports the rank correlation of
the maps with the original ones: a method passes when it drops below 0.5.

    .venv/bin/python benchmarks/attribution_ground_truth.py [--epochs 20]
"""

import argparse
import os

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def tabular(rng, n):
    x = rng.normal(size=(n, 24)).astype("float32")
    s = x[:, 0] + x[:, 1] * x[:, 2] - x[:, 3] + np.sin(2 * x[:, 4]) + 0.5 * x[:, 5] ** 2 - 0.5
    mask = np.zeros((n, 24), bool)
    mask[:, :6] = True
    return x, (s > 0).astype("int32"), mask


def images(rng, n):
    x = rng.uniform(0, 0.5, size=(n, 12, 12, 1)).astype("float32")
    y = rng.integers(0, 4, size=n)
    mask = np.zeros((n, 12, 12, 1), bool)
    for i, q in enumerate(y):
        r, c = 1 + 6 * (q // 2) + rng.integers(0, 2), 1 + 6 * (q % 2) + rng.integers(0, 2)
        x[i, r : r + 4, c : c + 4] += 0.5
        mask[i, r : r + 4, c : c + 4] = True
    return x, y.astype("int32"), mask


def precision_at_k(attributions, mask):
    a = np.abs(np.asarray(attributions, np.float64)).reshape(len(mask), -1)
    m = mask.reshape(len(mask), -1)
    scores = []
    for ai, mi in zip(a, m):
        k = int(mi.sum())
        top = np.argsort(-ai, kind="stable")[:k]
        scores.append(mi[top].mean())
    return float(np.mean(scores))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--examples", type=int, default=128, help="test examples explained")
    args = parser.parse_args()

    import keras
    from keras import ops

    from keras_dlss import interpret

    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    tasks = {}
    x, y, m = tabular(rng, 4000)
    mlp = keras.Sequential(
        [
            keras.Input((24,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(2),
        ]
    )
    tasks["tabular (6 of 24 informative)"] = (mlp, x, y, m, None, (1,))
    x, y, m = images(rng, 3000)
    cnn = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(4),
        ]
    )
    tasks["images (16 of 144 pixels)"] = (cnn, x, y, m, "conv2", (2, 2, 1))

    rows = []
    for task, (model, x, y, mask, conv, window) in tasks.items():
        n_test = args.examples
        model.compile(
            keras.optimizers.Adam(3e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            jit_compile=True,
        )
        model.fit(x[:-n_test], y[:-n_test], epochs=args.epochs, batch_size=64, verbose=0)
        xt, yt, mt = x[-n_test:], y[-n_test:], mask[-n_test:]
        accuracy = model.evaluate(xt, yt, verbose=0)[1]
        methods = {
            "gradient": "gradient",
            "gradient × input": "gradient_x_input",
            "SmoothGrad": "smoothgrad",
            "integrated gradients": "integrated_gradients",
            "occlusion": lambda mdl, xx, t, w=window: interpret.occlusion(mdl, xx, t, w),
            "feature ablation": lambda mdl, xx, t: interpret.feature_ablation(mdl, xx, t),
        }
        if conv:
            methods["Grad-CAM"] = ("grad_cam", conv)
        for name, method in methods.items():
            fn = interpret.sanity_checks._resolve(method)
            a = np.asarray(ops.convert_to_numpy(fn(model, xt, yt)))
            if a.shape != xt.shape:  # Grad-CAM: [B, H, W] resized to the input
                a = a.reshape(xt.shape)
            check = interpret.model_randomization_check(model, method, xt[:32], yt[:32])
            rows.append(
                (
                    task,
                    f"{accuracy:.3f}",
                    name,
                    precision_at_k(a, mt),
                    check["spearman_abs"][-1],
                    "pass" if check["passed"] else "FAIL",
                )
            )
        chance = float(mt.reshape(len(mt), -1).mean())
        rows.append((task, f"{accuracy:.3f}", "random ranking", chance, float("nan"), "-"))

    print(
        "| task | test acc | method | precision@k | rank corr. after full randomization | sanity |"
    )
    print("|---|---|---|---|---|---|")
    for task, acc, name, p, rho, verdict in rows:
        rho = "-" if np.isnan(rho) else f"{rho:.3f}"
        print(f"| {task} | {acc} | {name} | {p:.3f} | {rho} | {verdict} |")


if __name__ == "__main__":
    main()
