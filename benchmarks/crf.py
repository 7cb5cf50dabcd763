"""CRF speed: keras_dlss.ops (TF backend, jit_compile=True) vs pytorch-crf, side by side.

Times NLL + gradient (w.r.t. emissions and all CRF weights) and Viterbi decoding
at (B, T, K) = (32, 64, 20), (32, 256, 20), (8, 1024, 50), full-length masks,
for our sequential and parallel algorithms. Prints medians, our speed-up
(best of our two algorithms) over pytorch-crf, and the parallel algorithm's
floor: the time of its block matmuls alone, below which no implementation of
the O(log T)-depth tree can go on this machine.

    .venv/bin/pip install torch==2.13.0 pytorch-crf   # CPU build, benchmarks only
    .venv/bin/python benchmarks/crf.py [--repeats 20] [--shapes 32x64x20,...]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHAPES = ((32, 64, 20), (32, 256, 20), (8, 1024, 50))


def median_ms(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def ours(shape, algorithm, repeats, jit_compile=True):
    import tensorflow as tf

    from keras_dlss.ops import crf_decode, crf_log_likelihood

    b, t, k = shape
    rng = np.random.default_rng(0)
    emissions = tf.constant(rng.normal(size=shape).astype("float32"))
    tags = tf.constant(rng.integers(0, k, size=(b, t)).astype("int32"))
    weights = [
        tf.Variable(rng.normal(size=s).astype("float32") * 0.1) for s in ((k, k), (k,), (k,))
    ]

    @tf.function(jit_compile=jit_compile)
    def nll_and_grad(emissions, tags):
        with tf.GradientTape() as tape:
            tape.watch(emissions)
            trans, start, end = (tf.convert_to_tensor(w) for w in weights)
            nll = -tf.reduce_sum(
                crf_log_likelihood(emissions, tags, trans, None, start, end, algorithm=algorithm)
            )
        return nll, tape.gradient(nll, [emissions, *weights])

    @tf.function(jit_compile=jit_compile)
    def decode(emissions):
        trans, start, end = (tf.convert_to_tensor(w) for w in weights)
        return crf_decode(emissions, trans, None, start, end, algorithm=algorithm)

    nll_ms = median_ms(
        lambda: [x.numpy() for x in tf.nest.flatten(nll_and_grad(emissions, tags))], repeats
    )
    dec_ms = median_ms(lambda: decode(emissions)[0].numpy(), repeats)
    return nll_ms, dec_ms


def parallel_floor(shape, repeats, jit_compile=True):
    """Time of the parallel algorithm's up-sweep matmuls alone (ms), XLA, plain float32 GEMMs.

    The tree multiplies ~T `K x K` blocks per sequence, level by level; no
    implementation of it can be faster than these batched matmuls, so where
    this floor exceeds the sequential time, the parallel algorithm cannot win
    on this machine (a max-plus Viterbi product is no cheaper than a matmul).
    """
    import tensorflow as tf

    b, t, k = shape
    rng = np.random.default_rng(0)
    blocks = []
    n = 2 ** int(np.ceil(np.log2(t - 1)))
    while n > 2:  # level products down to (not including) the root
        n //= 2
        blocks.append(tf.constant(rng.random((b * n, 2, k, k)).astype("float32")))

    @tf.function(jit_compile=jit_compile)
    def products(*levels):  # a scalar out: no time spent copying products back
        return tf.add_n([tf.reduce_sum(tf.matmul(x[:, 0], x[:, 1])) for x in levels])

    return median_ms(lambda: products(*blocks).numpy(), repeats)


def pytorch_crf(shape, repeats):
    import torch
    from torchcrf import CRF

    b, t, k = shape
    rng = np.random.default_rng(0)
    crf = CRF(k, batch_first=True)
    emissions = torch.tensor(rng.normal(size=shape).astype("float32"), requires_grad=True)
    tags = torch.tensor(rng.integers(0, k, size=(b, t)))
    mask = torch.ones(b, t, dtype=torch.bool)

    def nll_and_grad():
        crf.zero_grad()
        emissions.grad = None
        nll = -crf(emissions, tags, mask, reduction="sum")
        nll.backward()

    def decode():
        with torch.no_grad():
            crf.decode(emissions, mask)

    return median_ms(nll_and_grad, repeats), median_ms(decode, repeats)


def peer_table(shapes, repeats):
    """pytorch-crf timings, measured in a process without TensorFlow.

    TensorFlow's spinning thread pools slow torch down several-fold when both
    run in one process, so the peer gets its own interpreter.
    """
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--peer-only",
            "--repeats",
            str(repeats),
            "--shapes",
            ",".join("x".join(map(str, s)) for s in shapes),
        ],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        print(
            f"pytorch-crf run failed (pip install torch==2.13.0 pytorch-crf):\n{out.stderr[-500:]}"
        )
        return {s: (float("nan"),) * 2 for s in shapes}
    return {
        tuple(r["shape"]): tuple(r["ms"]) for r in json.loads(out.stdout.strip().splitlines()[-1])
    }


def _repeats(shape, repeats):
    return max(5, repeats // (4 if shape[1] >= 1024 else 1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--shapes", default=",".join("x".join(map(str, s)) for s in SHAPES))
    parser.add_argument(
        "--no-xla",
        action="store_true",
        help="time ours in graph mode (what Keras's jit_compile='auto' gives on CPU)",
    )
    parser.add_argument("--peer-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    shapes = [tuple(int(d) for d in s.split("x")) for s in args.shapes.split(",")]
    if args.peer_only:
        rows = [{"shape": s, "ms": pytorch_crf(s, _repeats(s, args.repeats))} for s in shapes]
        print(json.dumps(rows))
        return
    peer = peer_table(shapes, args.repeats)
    header = (
        f"{'(B, T, K)':<15} {'op':<10} {'pytorch-crf':>12} {'ours seq':>10} {'ours par':>10} "
        f"{'par floor':>10} {'speed-up':>9}"
    )
    print(header)
    print("-" * len(header))
    for shape in shapes:
        repeats, jit = _repeats(shape, args.repeats), not args.no_xla
        seq = ours(shape, "sequential", repeats, jit)
        par = ours(shape, "parallel", repeats, jit)
        floor = parallel_floor(shape, repeats, jit)
        for i, op in enumerate(("NLL+grad", "Viterbi")):
            best = min(seq[i], par[i])
            print(
                f"{str(shape):<15} {op:<10} {peer[shape][i]:>10.2f}ms {seq[i]:>8.2f}ms {par[i]:>8.2f}ms "
                f"{floor:>8.2f}ms "
                f"{peer[shape][i] / best:>8.1f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
