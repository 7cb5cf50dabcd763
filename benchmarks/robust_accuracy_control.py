"""Epoch-matched control for the `shapes` arm of `robust_accuracy.py`.

`robust_accuracy.py --data shapes --epochs 10 --adv-epochs 3 --warm-start`
compares a standard CNN trained 10 epochs with a copy fine-tuned 3 more epochs
on PGD-7 examples, so its clean-accuracy comparison mixes adversarial training
with 3 extra epochs. This script builds the same standard model (same seed,
same construction order, so the first 10 epochs reproduce the benchmark's
model), trains it 10 + 3 clean epochs and reports clean accuracy after both,
and FGSM / PGD-20 accuracy of the 13-epoch model: the row the fine-tuned model
should be compared with.

    .venv/bin/python benchmarks/robust_accuracy_control.py [--eps 0.01,0.02,0.04]
"""

import argparse
import os
import sys
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--extra-epochs", type=int, default=3)
    parser.add_argument("--eps", default="0.01,0.02,0.04")
    parser.add_argument("--train-eps", type=float, default=0.02)
    args = parser.parse_args()

    import keras
    from keras import ops
    from robust_accuracy import shapes_cnn

    from keras_dlss import adversarial
    from keras_dlss.datasets import shapes

    x_train, y_train = shapes(8000, image_size=16, num_classes=4, seed=0)
    x_test, y_test = shapes(600, image_size=16, num_classes=4, seed=1)
    keras.utils.set_random_seed(0)
    standard = shapes_cnn()
    # The benchmark builds its adversarial copy next; drawing the same weights keeps
    # the random stream, and so the training shuffles, identical.
    adversarial.AdversarialTrainingModel(shapes_cnn(), eps=args.train_eps, steps=7, seed=0)

    def acc(inputs):
        return float((np.asarray(standard.predict(inputs, verbose=0)).argmax(1) == y_test).mean())

    standard.compile("adam", "sparse_categorical_crossentropy", jit_compile=True)
    start = time.perf_counter()
    standard.fit(x_train, y_train, epochs=args.epochs, batch_size=64, verbose=0)
    first = acc(x_test)
    standard.fit(x_train, y_train, epochs=args.extra_epochs, batch_size=64, verbose=0)
    total = args.epochs + args.extra_epochs
    row = {"clean": acc(x_test)}
    print(
        f"standard: clean {first:.3f} after {args.epochs} epochs, {row['clean']:.3f} after "
        f"{total} (fit {time.perf_counter() - start:.1f} s)"
    )
    for eps in (float(e) for e in args.eps.split(",")):
        row[f"FGSM {eps:g}"] = acc(
            ops.convert_to_numpy(adversarial.fgsm(standard, x_test, y_test, eps))
        )
        pgd = adversarial.pgd(standard, x_test, y_test, eps, steps=20, seed=0)
        row[f"PGD-20 {eps:g}"] = acc(ops.convert_to_numpy(pgd))
    print("| model | " + " | ".join(row) + " |")
    print("|---" * (len(row) + 1) + "|")
    print(f"| standard, {total} epochs | " + " | ".join(f"{v:.3f}" for v in row.values()) + " |")


if __name__ == "__main__":
    main()
