"""Three "intriguing properties" of deep networks, measured on scikit-learn's 8x8 digits.

* memorization (Zhang et al. 2017, https://arxiv.org/abs/1611.03530): the same
  MLP fits random labels to ~100% training accuracy while test accuracy stays
  at chance (10%); it needs more epochs than for the true labels.
* distillation (Hinton, Vinyals and Dean 2015, https://arxiv.org/abs/1503.02531):
  a small student trained on a large teacher's softened outputs
  (`keras.distillation.Distiller`, temperature T) vs the same student trained
  alone on the labels.
* catastrophic forgetting (Kirkpatrick et al. 2017, https://arxiv.org/abs/1612.00796):
  task A = digits, task B = the same digits with permuted pixels; accuracy on A
  after training on B, plain SGD vs `callbacks.ElasticWeightConsolidation` at
  several strengths λ.

    .venv/bin/python benchmarks/intriguing_properties.py [--png-dir docs/images] \
        [--png docs/images/distillation.png] [--parts memorization,distillation,forgetting]

`--png-dir` writes the memorization curves and the EWC bars; `--png` the
students' test accuracy per epoch (alone vs distilled, mean and spread over
the seeds) beside the final accuracy of each seed.
"""

import argparse
import os
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def load():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    perm = np.random.default_rng(0).permutation(len(x))
    x, y = x[perm], y[perm].astype("int32")
    return x[:1000], y[:1000], x[1000:], y[1000:]


def mlp(keras, widths, softmax=False, seed=0):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((64,))]
    layers += [keras.layers.Dense(w, activation="relu") for w in widths]
    layers.append(keras.layers.Dense(10, activation="softmax" if softmax else None))
    return keras.Sequential(layers)


def memorization(keras, data, epochs):
    x, y, xt, yt = data
    logits = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    curves, rows = {}, []
    for name, labels in (
        ("true labels", y),
        ("random labels", np.random.default_rng(1).integers(0, 10, len(y)).astype("int32")),
    ):
        model = mlp(keras, (512, 512))
        model.compile(keras.optimizers.Adam(1e-3), logits, metrics=["accuracy"], jit_compile=True)
        start = time.perf_counter()
        history = model.fit(x, labels, epochs=epochs, batch_size=64, verbose=0)
        seconds = time.perf_counter() - start
        acc = history.history["accuracy"]
        reached = next((i + 1 for i, a in enumerate(acc) if a >= 0.99), None)
        test = model.evaluate(xt, yt, verbose=0)[1]
        curves[name] = acc
        rows.append((name, acc[-1], test, reached, seconds))
    print(f"\n## Memorization (MLP 64-512-512-10, 1000 digits, Adam 1e-3, {epochs} epochs)\n")
    print("| labels | final train acc | test acc | epochs to 99% train acc | fit seconds |")
    print("|---|---|---|---|---|")
    for name, train, test, reached, seconds in rows:
        print(f"| {name} | {train:.3f} | {test:.3f} | {reached or 'not reached'} | {seconds:.1f} |")
    return curves


def distillation(keras, data, epochs, temperature):
    x, y, xt, yt = data
    logits = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    teacher = mlp(keras, (512, 512))
    teacher.compile(keras.optimizers.Adam(1e-3), logits, metrics=["accuracy"], jit_compile=True)
    teacher.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
    teacher_acc = teacher.evaluate(xt, yt, verbose=0)[1]
    alone, distilled = [], []
    curves = {"student alone": [], "student distilled": []}

    def tracker(student, curve):
        # Test accuracy after every epoch; predict draws no random numbers, so
        # training is the same as without the tracker.
        return keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: curve.append(
                float(np.mean(np.argmax(student.predict(xt, verbose=0), -1) == yt))
            )
        )

    for seed in range(3):
        student = mlp(keras, (8,), seed=seed)
        student.compile(keras.optimizers.Adam(3e-3), logits, metrics=["accuracy"])
        curves["student alone"].append([])
        student.fit(
            x,
            y,
            epochs=epochs,
            batch_size=64,
            verbose=0,
            callbacks=[tracker(student, curves["student alone"][-1])],
        )
        alone.append(student.evaluate(xt, yt, verbose=0)[1])
        student = mlp(keras, (8,), seed=seed)
        distiller = keras.distillation.Distiller(
            teacher=teacher,
            student=student,
            # An explicit KLDivergence: the "kl_divergence" string default skips the
            # softmax in Keras 3.15.1 (see docs/interpretability.md).
            distillation_losses=keras.distillation.LogitsDistillation(
                temperature=temperature, loss=keras.losses.KLDivergence()
            ),
            student_loss_weight=0.1,
        )
        distiller.compile(keras.optimizers.Adam(3e-3), loss=logits)
        curves["student distilled"].append([])
        distiller.fit(
            x,
            y,
            epochs=epochs,
            batch_size=64,
            verbose=0,
            callbacks=[tracker(student, curves["student distilled"][-1])],
        )
        student.compile(metrics=["accuracy"], loss=logits)
        distilled.append(student.evaluate(xt, yt, verbose=0)[1])
    print(
        f"\n## Distillation (teacher 64-512-512-10, student 64-8-10, T={temperature}, "
        f"{epochs} epochs, 3 student seeds)\n"
    )
    print("| model | test acc (mean ± std) |")
    print("|---|---|")
    print(f"| teacher | {teacher_acc:.3f} |")
    print(f"| student alone | {np.mean(alone):.3f} ± {np.std(alone):.3f} |")
    print(f"| student distilled | {np.mean(distilled):.3f} ± {np.std(distilled):.3f} |")
    return {"teacher": teacher_acc, "curves": curves, "alone": alone, "distilled": distilled}


def forgetting(keras, data, epochs, strengths):
    from keras_dlss.callbacks import ElasticWeightConsolidation

    x, y, xt, yt = data
    pixels = np.random.default_rng(2).permutation(64)
    xb, xbt = x[:, pixels], xt[:, pixels]
    rows = []
    for strength in strengths:
        model = mlp(keras, (256, 256), softmax=True)
        model.compile(
            keras.optimizers.SGD(0.05, momentum=0.9),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        callbacks = [ElasticWeightConsolidation(x, strength=strength)] if strength else []
        model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, callbacks=callbacks)
        a_before = model.evaluate(xt, yt, verbose=0)[1]
        model.fit(xb, y, epochs=epochs, batch_size=32, verbose=0)
        rows.append(
            (
                strength,
                a_before,
                model.evaluate(xt, yt, verbose=0)[1],
                model.evaluate(xbt, yt, verbose=0)[1],
            )
        )
    print(
        f"\n## Catastrophic forgetting (MLP 64-256-256-10, SGD+momentum, {epochs} epochs per "
        "task; A = digits, B = permuted digits)\n"
    )
    print("| EWC strength λ | A acc after A | A acc after B | B acc after B |")
    print("|---|---|---|---|")
    for strength, before, after, b in rows:
        label = "0 (plain SGD)" if not strength else f"{strength:g}"
        print(f"| {label} | {before:.3f} | {after:.3f} | {b:.3f} |")
    return rows


def plots(png_dir, curves, rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for name, acc in curves.items():
        axes[0].plot(np.arange(1, len(acc) + 1), acc, label=name)
    axes[0].set(xlabel="epoch", ylabel="train accuracy", title="Memorization (digits)")
    axes[0].legend(fontsize=8)
    labels = ["plain" if not s else f"λ={s:g}" for s, *_ in rows]
    pos = np.arange(len(rows))
    axes[1].bar(pos - 0.2, [r[2] for r in rows], 0.4, label="task A after B")
    axes[1].bar(pos + 0.2, [r[3] for r in rows], 0.4, label="task B after B")
    axes[1].set_xticks(pos, labels, fontsize=8)
    axes[1].set(ylabel="test accuracy", title="Forgetting with / without EWC", ylim=(0, 1))
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(png_dir, "intriguing_properties.png")
    fig.savefig(path, dpi=80)
    print(f"\nwrote {path}")


def distillation_plot(path, result, temperature):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [2, 1]})
    for name, runs in result["curves"].items():
        runs = np.asarray(runs)
        epochs = np.arange(1, runs.shape[1] + 1)
        mean, std = runs.mean(0), runs.std(0)
        axes[0].plot(epochs, mean, label=f"{name} (mean of {len(runs)} seeds)")
        axes[0].fill_between(epochs, mean - std, mean + std, alpha=0.25)
    axes[0].axhline(result["teacher"], color="k", ls="--", lw=1, label="teacher 64-512-512-10")
    axes[0].set(
        xlabel="epoch",
        ylabel="test accuracy",
        title="Student 64-8-10 test accuracy per epoch",
        ylim=(0, 1),
    )
    axes[0].legend(fontsize=7, loc="lower right")
    for i, key in enumerate(("alone", "distilled")):
        values = result[key]
        axes[1].bar(i, np.mean(values), 0.6, alpha=0.5, yerr=np.std(values), capsize=4)
        axes[1].plot([i] * len(values), values, "ko", ms=4)
    axes[1].set_xticks([0, 1], ["alone", f"distilled\nT={temperature:g}"])
    low = min(min(result["alone"]), min(result["distilled"]))
    axes[1].set(
        ylabel="final test accuracy",
        title="Per seed (dots), mean ± std",
        ylim=(max(0.0, low - 0.05), 1),
    )
    fig.suptitle("Knowledge distillation on digits (Hinton et al. 2015)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"\nwrote {path}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--memorization-epochs", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--temperature", type=float, default=4.0)
    parser.add_argument("--strengths", default="0,10,100,1000")
    parser.add_argument("--png-dir", default=None)
    parser.add_argument("--png", default=None, help="PNG path for the distillation figure")
    parser.add_argument("--parts", default="memorization,distillation,forgetting")
    args = parser.parse_args()

    import keras

    parts = set(args.parts.split(","))
    unknown = parts - {"memorization", "distillation", "forgetting"}
    if unknown:
        parser.error(f"unknown --parts: {sorted(unknown)}")
    data = load()
    curves = memorization(keras, data, args.memorization_epochs) if "memorization" in parts else {}
    if "distillation" in parts:
        result = distillation(keras, data, args.epochs, args.temperature)
        if args.png:
            distillation_plot(args.png, result, args.temperature)
    if "forgetting" in parts:
        strengths = [float(s) for s in args.strengths.split(",")]
        rows = forgetting(keras, data, args.epochs, strengths)
        if args.png_dir and curves:
            plots(args.png_dir, curves, rows)


if __name__ == "__main__":
    main()
