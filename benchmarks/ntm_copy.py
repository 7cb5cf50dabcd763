"""NTM vs LSTM on the copy task: trained on short sequences, tested on longer ones.

Graves et al. (2014, Fig. 4-5) train both on copy sequences of length 1-20 and show
the NTM still copies at lengths 30-120 while the LSTM fails past the training range.
This script trains `RNN(NTMCell)` (the `keras-dlss train ntm` model) and an LSTM
baseline on fresh random batches of lengths 1..`--max-length` (the same seeds for both),
then prints the per-bit error of the answer phase at each test length, one column per
model, side by side. Test sequences use their own seeds; nothing is selected on them
(the final weights are tested).

    python benchmarks/ntm_copy.py [--max-length 20] [--test-lengths 10,20,30,60,120]
        [--steps 2000] [--minutes M] [--batch-size 32] [--lstm-units 256]
        [--lstm-layers 1] [--models NTM,LSTM] [--curriculum] [--eval-every 500]
        [--save-dir DIR]

Each model can run in its own process (`--models NTM` / `--models LSTM`) with its own
`KERAS_BACKEND`: on one CPU thread TensorFlow (XLA) steps the NTM ~4x faster than JAX,
and JAX steps the LSTM ~1.5x faster than TensorFlow.

`--curriculum` (a convergence aid, Collier & Beel 2018, https://arxiv.org/abs/1807.08518):
the longest training length starts at `--curriculum-start` and grows by one each time the
mean answer-phase loss per bit of the last 50 steps falls below `--curriculum-threshold`;
it is forced up linearly so that `--max-length` is reached by `--curriculum-until` of the
step or time budget at the latest. Batches are zero-padded (weight 0) to the next multiple
of 5 in length, so a jit-compiled step is traced only a few times.

Every `--eval-every` steps the per-bit error on 64 fixed *training-distribution*
sequences of length `--max-length` (seed 777, not a test seed) is printed: the training
curve. The loss printed is per answer bit (Keras' weighted loss rescaled by
`steps * batch / sum(weights)`).

The full-size run in docs/memory.md (NTM: batch 8, 25 minutes, TensorFlow; LSTM 256:
batch 32, 90 minutes, JAX; both `--curriculum`) gives the NTM 0.0% bit error up to length
80 and 2.0% at 120, the LSTM 13.5% at 20 and 49.8% at 120.

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


def lstm_copy_model(bits, units, layers=1):
    """The baseline: `layers` stacked LSTMs and the same sigmoid read-out, Adam, BCE."""
    inputs = keras.Input((None, bits + 1))
    h = inputs
    for _ in range(layers):
        h = keras.layers.LSTM(units, return_sequences=True)(h)
    model = keras.Model(inputs, keras.layers.Dense(bits, activation="sigmoid")(h))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3, clipnorm=10.0),
        loss="binary_crossentropy",
        jit_compile=True,
    )
    return model


def padded_batch(batch_size, longest, seed, bucket=5):
    """A copy batch of lengths 1..longest, zero-padded (weight 0) to a multiple of `bucket`."""
    x, y, w = copy_task(batch_size, 1, longest, seed=seed)
    steps = 2 * (-(-longest // bucket) * bucket) + 1
    pad = [(0, 0), (0, steps - x.shape[1])]
    return np.pad(x, pad + [(0, 0)]), np.pad(y, pad + [(0, 0)]), np.pad(w, pad)


def train(model, args, seed, log):
    """Up to `args.steps` steps (or `args.minutes`) on fresh batches.

    Returns:
        `(seconds, steps run, mean loss per answer bit of the last 50 steps, curve)`,
        `curve` a list of `(step, seconds, longest length, loss, bit error at max length)`.
    """
    start, losses, curve = time.perf_counter(), [], []
    longest = args.curriculum_start if args.curriculum else args.max_length
    stage_losses = []
    probe = copy_task(64, args.max_length, args.max_length, seed=777)
    report_every = args.eval_every or max(1, args.steps // 10)
    for step in range(args.steps):
        elapsed = time.perf_counter() - start
        if args.minutes and elapsed > 60 * args.minutes:
            break
        if args.curriculum and longest < args.max_length:
            done = max(step / args.steps, elapsed / (60 * args.minutes) if args.minutes else 0)
            ramp = args.curriculum_start + (args.max_length - args.curriculum_start) * min(
                1.0, done / args.curriculum_until
            )
            fit = (
                len(stage_losses) >= 50 and np.mean(stage_losses[-50:]) < args.curriculum_threshold
            )
            new = min(args.max_length, max(longest + int(fit), int(ramp)))
            if new != longest:
                longest, stage_losses = new, []
                log(f"  step {step}: curriculum -> lengths 1-{longest}")
        x, y, w = padded_batch(args.batch_size, longest, seed * 1_000_003 + step)
        raw = float(np.ravel(model.train_on_batch(x, y, sample_weight=w))[0])
        if not np.isfinite(raw):
            log(f"  step {step + 1}: loss is not finite; training stops here")
            break
        loss = raw * w.size / w.sum()
        losses.append(loss)
        stage_losses.append(loss)
        if (step + 1) % report_every == 0:
            error = bit_error(model, *probe, batch_size=64)
            seconds = time.perf_counter() - start
            curve.append((step + 1, seconds, longest, float(np.mean(losses[-50:])), error))
            log(
                f"  step {step + 1}: lengths 1-{longest}, loss/bit {np.mean(losses[-50:]):.4f}, "
                f"bit error at {args.max_length}: {100 * error:.2f}% ({seconds:.0f} s)"
            )
    return time.perf_counter() - start, len(losses), float(np.mean(losses[-50:])), curve


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
    parser.add_argument("--lstm-layers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default="NTM,LSTM", help="which of NTM, LSTM to train")
    parser.add_argument("--curriculum", action="store_true", help="grow the training length")
    parser.add_argument("--curriculum-start", type=int, default=5)
    parser.add_argument("--curriculum-threshold", type=float, default=0.03)
    parser.add_argument("--curriculum-until", type=float, default=0.5)
    parser.add_argument("--eval-every", type=int, default=None)
    parser.add_argument("--save-dir", default=None, help="save each trained model here")
    args = parser.parse_args()
    lengths = [int(n) for n in args.test_lengths.split(",")]
    if max(lengths) > args.memory_size:
        parser.error("--memory-size must be >= the longest test length")

    def log(message):
        print(message, flush=True)

    keras.utils.set_random_seed(args.seed)
    builders = {
        "NTM": lambda: ntm_copy_model(8, args.units, args.memory_size, args.memory_width),
        "LSTM": lambda: lstm_copy_model(8, args.lstm_units, args.lstm_layers),
    }
    results = {}
    for name in args.models.split(","):
        model = builders[name]()
        log(f"{name}: {model.count_params()} parameters, backend {keras.backend.backend()}")
        seconds, steps, loss, _ = train(model, args, args.seed, log)
        if args.save_dir:
            os.makedirs(args.save_dir, exist_ok=True)
            model.save(os.path.join(args.save_dir, f"{name.lower()}_copy.keras"))
        errors = {}
        for n in lengths:
            x, y, w = copy_task(args.test_size, n, n, seed=10_000 + n)
            errors[n] = bit_error(model, x, y, w, batch_size=args.test_size)
            log(f"  test length {n}: bit error {100 * errors[n]:.2f}%")
        results[name] = (model.count_params(), seconds, steps, loss, errors)

    print(
        f"\nCopy task: batches of {args.batch_size} on lengths 1-{args.max_length}"
        f"{' (curriculum)' if args.curriculum else ''}; per-bit error (%) of the answer "
        f"phase, {args.test_size} sequences per length"
    )
    print("| length | " + " | ".join(f"{name} bit error (%)" for name in results) + " |")
    print("|---|" + "---|" * len(results))
    for n in lengths:
        tag = " (trained)" if n <= args.max_length else ""
        row = " | ".join(f"{100 * r[4][n]:.1f}" for r in results.values())
        print(f"| {n}{tag} | {row} |")
    print("\n| model | parameters | train steps | train time (s) | final loss per answer bit |")
    print("|---|---|---|---|---|")
    for name, (params, seconds, steps, loss, _) in results.items():
        print(f"| {name} | {params} | {steps} | {seconds:.0f} | {loss:.4f} |")


if __name__ == "__main__":
    main()
