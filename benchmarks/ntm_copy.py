"""NTM vs LSTM on the copy task: trained on short sequences, tested on longer ones.

Graves et al. (2014, Fig. 4-5) train both on copy sequences of length 1-20 and show
the NTM still copies at lengths 30-120 while the LSTM fails past the training range.
This script trains `RNN(NTMCell)` (the `keras-dlss train ntm` model) and an LSTM
baseline for the same number of steps on fresh random batches of lengths
1..`--max-length`, then prints the per-bit error of the answer phase at each test
length, one column per model, side by side.

    python benchmarks/ntm_copy.py [--max-length 20] [--test-lengths 10,20,30,60,120]
        [--steps 2000] [--minutes M] [--batch-size 32] [--lstm-units 256] [--models NTM,LSTM]

Generated data (keras_dlss.datasets.copy_task); no download.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_dlss.applications.ntm_task import bit_error, ntm_copy_model  # noqa: E402
from keras_dlss.datasets import copy_task  # noqa: E402


def lstm_copy_model(bits, units):
    """The baseline: one LSTM layer and the same sigmoid read-out, Adam, BCE."""
    inputs = keras.Input((None, bits + 1))
    h = keras.layers.LSTM(units, return_sequences=True)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(bits, activation="sigmoid")(h))
    model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=10.0), loss="binary_crossentropy")
    return model


def train(model, args, seed):
    """Up to `args.steps` steps (or `args.minutes`) on fresh batches of lengths 1..max_length.

    Returns:
        `(seconds, steps run, mean loss of the last 50 steps)`.
    """
    start, losses = time.perf_counter(), []
    for step in range(args.steps):
        if args.minutes and time.perf_counter() - start > 60 * args.minutes:
            break
        x, y, w = copy_task(args.batch_size, 1, args.max_length, seed=seed * 1_000_003 + step)
        losses.append(float(np.ravel(model.train_on_batch(x, y, sample_weight=w))[0]))
        if (step + 1) % max(1, args.steps // 10) == 0:
            print(
                f"  step {step + 1}: loss {np.mean(losses[-50:]):.4f} "
                f"({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    return time.perf_counter() - start, len(losses), float(np.mean(losses[-50:]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-length", type=int, default=20)
    parser.add_argument("--test-lengths", default="10,20,30,60,120")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--minutes", type=float, default=None, help="training time budget")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--test-size", type=int, default=64)
    parser.add_argument("--units", type=int, default=100, help="NTM controller units")
    parser.add_argument("--memory-size", type=int, default=128)
    parser.add_argument("--memory-width", type=int, default=20)
    parser.add_argument("--lstm-units", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default="NTM,LSTM", help="which of NTM, LSTM to train")
    args = parser.parse_args()
    lengths = [int(n) for n in args.test_lengths.split(",")]
    if max(lengths) > args.memory_size:
        parser.error("--memory-size must be >= the longest test length")

    keras.utils.set_random_seed(args.seed)
    builders = {
        "NTM": lambda: ntm_copy_model(8, args.units, args.memory_size, args.memory_width),
        "LSTM": lambda: lstm_copy_model(8, args.lstm_units),
    }
    results = {}
    for name in args.models.split(","):
        model = builders[name]()
        print(f"{name}: {model.count_params()} parameters", flush=True)
        seconds, steps, loss = train(model, args, args.seed)
        errors = {}
        for n in lengths:
            x, y, w = copy_task(args.test_size, n, n, seed=10_000 + n)
            errors[n] = bit_error(model, x, y, w, batch_size=args.test_size)
        results[name] = (model.count_params(), seconds, steps, loss, errors)

    print(
        f"\nCopy task: batches of {args.batch_size} on lengths 1-{args.max_length}; per-bit "
        f"error (%) of the answer phase, {args.test_size} sequences per length"
    )
    print("| length | " + " | ".join(f"{name} bit error (%)" for name in results) + " |")
    print("|---|" + "---|" * len(results))
    for n in lengths:
        tag = " (trained)" if n <= args.max_length else ""
        row = " | ".join(f"{100 * r[4][n]:.1f}" for r in results.values())
        print(f"| {n}{tag} | {row} |")
    print("\n| model | parameters | train steps | train time (s) | final train loss |")
    print("|---|---|---|---|---|")
    for name, (params, seconds, steps, loss, _) in results.items():
        print(f"| {name} | {params} | {steps} | {seconds:.0f} | {loss:.4f} |")


if __name__ == "__main__":
    main()
