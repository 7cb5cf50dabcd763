"""keras_dlss.debugging.gradient_check vs torch.autograd.gradcheck.

The issue's benchmark: a float64 MLP 64-256-256-64 (tanh, batch 8, 98,880
parameters; the Jacobian is 512 x 99,392), checked with respect to the input
and every weight, in fast mode (random projections vᵀJu) and in full mode (the
whole Jacobian, two forward passes per element). Both libraries get identical
weights and inputs. torch's parameters are passed to `gradcheck` as inputs of a
`torch.func.functional_call`, so both check the same 7 tensors.

Fast-mode times are the median of `--repeats` calls after a warm-up call (both
libraries); full mode runs once each. Wall time is what the user waits; CPU
time (process time, all threads) is the fairer number when other jobs share
the machine. Needs `pip install torch==2.13.0` (benchmarks only).

    python benchmarks/gradient_check.py               # fast and full
    python benchmarks/gradient_check.py --skip-full   # fast mode only
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SIZES = (64, 256, 256, 64)
BATCH = 8


def _weights(seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        w = rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)
        layers.append((w, 0.1 * rng.standard_normal(fan_out)))
    return layers, rng.standard_normal((BATCH, SIZES[0]))


def _keras_check(layers, x, fast_mode):
    import keras

    from keras_dlss.debugging import gradient_check

    model = keras.Sequential([keras.Input((SIZES[0],), dtype="float64")])
    for k, _ in enumerate(layers):
        activation = "tanh" if k < len(layers) - 1 else None
        model.add(keras.layers.Dense(SIZES[k + 1], activation=activation, dtype="float64"))
    model.set_weights([a for pair in layers for a in pair])
    return lambda: gradient_check(model, x, fast_mode=fast_mode).passed


def _torch_check(layers, x, fast_mode):
    import torch

    tensors = [torch.tensor(x, requires_grad=True)]
    for w, b in layers:
        tensors += [
            torch.tensor(w.T.copy(), requires_grad=True),
            torch.tensor(b, requires_grad=True),
        ]

    def mlp(x, *params):
        h = x
        for k in range(0, len(params), 2):
            h = torch.nn.functional.linear(h, params[k], params[k + 1])
            if k < len(params) - 2:
                h = torch.tanh(h)
        return h

    return lambda: torch.autograd.gradcheck(mlp, tuple(tensors), fast_mode=fast_mode)


def _time(fn, repeats):
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        assert fn(), "gradient check failed"
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for both libraries (torch, TF intra/inter-op); default: all cores",
    )
    args = parser.parse_args()
    import tensorflow as tf
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    layers, x = _weights()
    n_params = sum(w.size + b.size for w, b in layers)
    print(
        f"MLP {'-'.join(map(str, SIZES))} tanh, batch {BATCH}, {n_params} parameters, "
        f"float64; torch {torch.__version__}, {torch.get_num_threads()} thread(s) per library, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'mode':<6} {'library':<26} {'wall s':>9} {'cpu s':>9}")
    modes = [True] if args.skip_full else [True, False]
    for fast_mode in modes:
        repeats = args.repeats if fast_mode else 1
        for name, make in (
            ("torch.autograd.gradcheck", _torch_check),
            ("keras_dlss gradient_check", _keras_check),
        ):
            check = make(layers, x, fast_mode)
            if fast_mode:
                check()  # warm-up: first-call tracing and kernel set-up
            wall, cpu = _time(check, repeats)
            print(
                f"{'fast' if fast_mode else 'full':<6} {name:<26} {wall:>9.3f} {cpu:>9.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
