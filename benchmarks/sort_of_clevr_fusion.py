"""Sort-of-CLEVR: FiLM vs concatenation, relation network and bilinear pooling, side by side.

Every arm of `applications.FiLMQuestionAnswering` (same CNN stem, same data, same
epochs, Adam 1e-3, batch 64, XLA on TensorFlow) is trained on the generated
Sort-of-CLEVR images (`datasets.sort_of_clevr`, split by image) and evaluated on
held-out images; the table gives relational and non-relational test accuracy (the
paper's two columns), parameters, and training time, one row per arm, printed as each
arm finishes. Short budget: the papers train for hundreds of epochs on 10,000 75×75
images; these numbers are a fixed, equal budget for every arm, not converged results.

    .venv/bin/python benchmarks/sort_of_clevr_fusion.py [--images 2000] [--epochs 12]
        [--arms film,concat,relation,bilinear-full,bilinear-low_rank,bilinear-compact]
"""

import argparse
import os
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_dlss.applications.film_vqa import FUSIONS, FiLMQuestionAnswering  # noqa: E402
from keras_dlss.applications.film_vqa_task import (  # noqa: E402
    accuracy_by_kind,
    sort_of_clevr_splits,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--arms", default=",".join(FUSIONS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = sort_of_clevr_splits(num_images=args.images, seed=args.seed)
    x, y = data.train
    print(
        f"Sort-of-CLEVR: {args.images} images 32x32, {len(y)} train / {len(data.test[1])} test "
        f"questions; {args.epochs} epochs, batch {args.batch_size}, os.getloadavg()="
        f"{tuple(round(v, 1) for v in os.getloadavg())}",
        flush=True,
    )
    print(
        "| fusion | relational acc | non-relational acc | overall acc | params | train s | s/epoch |"
    )
    print("|---|---|---|---|---|---|---|", flush=True)
    print(_question_only_row(data), flush=True)
    for arm in args.arms.split(","):
        model = FiLMQuestionAnswering(fusion=arm, seed=args.seed)
        model.compile()
        model.fit([a[: args.batch_size] for a in x], y[: args.batch_size], verbose=0)
        start = time.perf_counter()  # after one step: XLA compilation is not training time
        model.fit(
            x,
            y,
            epochs=args.epochs,
            batch_size=args.batch_size,
            verbose=0,
        )
        seconds = time.perf_counter() - start
        acc = accuracy_by_kind(model, *data.test)
        print(
            f"| {arm} | {acc['relational_accuracy']:.3f} | {acc['non_relational_accuracy']:.3f} | "
            f"{acc['accuracy']:.3f} | {model.count_params():,} | {seconds:.0f} | "
            f"{seconds / args.epochs:.1f} |",
            flush=True,
        )
    print(f"load average at the end: {tuple(round(v, 1) for v in os.getloadavg())}")


def _question_only_row(data):
    """The floor every arm must beat: the majority training answer of each question type."""
    (_, questions), answers = data.train
    (_, test_questions), test_answers = data.test
    kind = lambda q: (q[:, 7] * 3 + q[:, 8:].argmax(1)).astype(int)  # noqa: E731
    best = np.zeros(6, int)
    for k in np.unique(kind(questions)):
        best[k] = np.bincount(answers[kind(questions) == k], minlength=10).argmax()
    correct = best[kind(test_questions)] == test_answers
    relational = test_questions[:, 7] > 0.5
    return (
        f"| question only (majority answer per type) | {correct[relational].mean():.3f} | "
        f"{correct[~relational].mean():.3f} | {correct.mean():.3f} | 0 | - | - |"
    )


if __name__ == "__main__":
    main()
