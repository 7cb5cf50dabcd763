"""Sort-of-CLEVR: FiLM vs concatenation, relation network and bilinear pooling, side by side.

Every arm of `applications.FiLMQuestionAnswering` (same CNN stem, same data, same
number of steps, Adam, batch 64) is trained on the generated Sort-of-CLEVR images
(`datasets.sort_of_clevr`, split by image: 80 / 10 / 10 %) and evaluated once, after
the last epoch, on the held-out test images: no model selection on the test set (the
validation accuracy after each epoch is printed as a `#` line, for the learning curve
only). The table gives relational and non-relational test accuracy (the paper's two
columns), parameters and training time, one row per arm, printed as each arm finishes;
a second table splits the test accuracy by question subtype. A fixed, equal budget for
every arm, not converged results: the papers train far longer.

    .venv/bin/python benchmarks/sort_of_clevr_fusion.py [--images 10000] [--epochs 10]
        [--arms film,concat,relation,bilinear-full,bilinear-low_rank,bilinear-compact]
        [--hidden 64] [--learning-rate 1e-3]

`KERAS_BACKEND` picks the backend (TensorFlow by default; JAX was ~2x faster per step on
the 2-core CPU build machine).
"""

import argparse
import os
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from keras_dlss.applications.film_vqa import FUSIONS, FiLMQuestionAnswering  # noqa: E402
from keras_dlss.applications.film_vqa_task import (  # noqa: E402
    accuracy_by_kind,
    sort_of_clevr_splits,
)

SUBTYPES = ("shape", "left", "top", "closest", "furthest", "count")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, default=64, help="width of every arm's MLPs")
    parser.add_argument("--arms", default=",".join(FUSIONS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = sort_of_clevr_splits(num_images=args.images, seed=args.seed)
    x, y = data.train
    steps = args.epochs * -(-len(y) // args.batch_size)
    print(
        f"Sort-of-CLEVR: {args.images} images 32x32, {len(y)} train / {len(data.test[1])} test "
        f"questions; {args.epochs} epochs ({steps} steps), batch {args.batch_size}, Adam "
        f"{args.learning_rate:g}, MLP width {args.hidden}, backend {keras.backend.backend()}, "
        f"os.getloadavg()={tuple(round(v, 1) for v in os.getloadavg())}",
        flush=True,
    )
    print(
        "| fusion | relational acc | non-relational acc | overall acc | params | train s | s/epoch |"
    )
    print("|---|---|---|---|---|---|---|", flush=True)
    floor, floor_by_type = _question_only(data)
    print(floor, flush=True)
    by_type = {"question only": floor_by_type}
    for arm in args.arms.split(","):
        keras.utils.set_random_seed(args.seed)
        model = FiLMQuestionAnswering(
            fusion=arm, seed=args.seed, learning_rate=args.learning_rate, hidden=args.hidden
        )
        model.compile()
        model.fit([a[: args.batch_size] for a in x], y[: args.batch_size], verbose=0)
        start = time.perf_counter()  # after one step: compilation is not training time
        model.fit(
            x,
            y,
            epochs=args.epochs,
            batch_size=args.batch_size,
            verbose=0,
            callbacks=[_ValidationCurve(arm, data.validation)],
        )
        seconds = time.perf_counter() - start
        acc = accuracy_by_kind(model, *data.test)
        print(
            f"| {arm} | {acc['relational_accuracy']:.3f} | {acc['non_relational_accuracy']:.3f} | "
            f"{acc['accuracy']:.3f} | {model.count_params():,} | {seconds:.0f} | "
            f"{seconds / args.epochs:.1f} |",
            flush=True,
        )
        by_type[arm] = _accuracy_by_type(model, *data.test)
    print("\nTest accuracy by question subtype:\n")
    print("| fusion | " + " | ".join(SUBTYPES) + " |")
    print("|---" * (len(SUBTYPES) + 1) + "|")
    for arm, values in by_type.items():
        print(f"| {arm} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
    print(f"load average at the end: {tuple(round(v, 1) for v in os.getloadavg())}")


def _subtype(questions):
    """0-5: shape, left, top (non-relational); closest, furthest, count (relational)."""
    return (questions[:, 7] * 3 + questions[:, 8:].argmax(1)).astype(int)


def _accuracy_by_type(model, x, y):
    predicted = model.predict(x, batch_size=256, verbose=0).argmax(-1)
    kind = _subtype(np.asarray(x[1]))
    return [float((predicted == y)[kind == k].mean()) for k in range(len(SUBTYPES))]


class _ValidationCurve(keras.callbacks.Callback):
    """Prints validation accuracy by kind after each epoch (a learning curve, never a selector)."""

    def __init__(self, arm, validation):
        super().__init__()
        self.arm, (self.x, self.y) = arm, validation

    def on_epoch_end(self, epoch, logs=None):
        acc = accuracy_by_kind(self.model, self.x, self.y)
        print(
            f"# {self.arm} epoch {epoch + 1}: train acc {logs['accuracy']:.3f}, validation "
            f"relational {acc['relational_accuracy']:.3f} non-relational "
            f"{acc['non_relational_accuracy']:.3f}",
            flush=True,
        )


def _question_only(data):
    """The floor every arm must beat: the majority training answer of each question type."""
    (_, questions), answers = data.train
    (_, test_questions), test_answers = data.test
    best = np.zeros(len(SUBTYPES), int)
    for k in np.unique(_subtype(questions)):
        best[k] = np.bincount(answers[_subtype(questions) == k], minlength=10).argmax()
    correct = best[_subtype(test_questions)] == test_answers
    relational = test_questions[:, 7] > 0.5
    kind = _subtype(test_questions)
    row = (
        f"| question only (majority answer per type) | {correct[relational].mean():.3f} | "
        f"{correct[~relational].mean():.3f} | {correct.mean():.3f} | 0 | - | - |"
    )
    return row, [float(correct[kind == k].mean()) for k in range(len(SUBTYPES))]


if __name__ == "__main__":
    main()
