"""Skewed vs naive relative position logits, and MusicTransformer training speed.

Part 1 compares `keras_dlss.ops.relative_position_logits` (Huang et al.'s
pad-reshape-slice skew) with the naive Shaw et al. implementation that gathers
an `[L, L, D]` tensor of embeddings, for one head (B = H = 1, D = 64), causal.
"Extra memory" is what the XLA-compiled computation allocates beyond its
inputs and its `[L, L]` output (which any attention needs): temporaries and
constants, exactly, from the compiled program's buffer assignment
(`experimental_get_compiler_ir(stage="optimized_hlo_proto_serialized")`).
Peak RSS of the process was tried for graph mode and rejected: the allocator
reuses freed pages, so the skew's small temporaries often read as 0 MiB.

Times are the median of several calls after a warm-up, in graph mode
(`tf.function`) and with XLA, each in a fresh subprocess.

Part 2 trains the `music-transformer` task's default model on windows of the
embedded Bach chorales and reports training tokens/s with and without XLA.

    python benchmarks/relative_attention.py            # both parts
    python benchmarks/relative_attention.py --lengths 256 1024 --skip-training
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _naive(query, embeddings, causal):
    from keras import ops

    length = query.shape[-2]
    index = ops.arange(length)[None, :] - ops.arange(length)[:, None] + length - 1
    table = ops.take(embeddings, index, axis=0)  # [L, L, D]: what the skew avoids
    logits = ops.einsum("bhid,ijd->bhij", query, table)
    if causal:
        logits = ops.where(ops.tril(ops.ones((length, length), "bool")), logits, 0.0)
    return logits


def xla_extra_bytes(impl, length, depth):
    """Temporaries + constants of the XLA program (no parameters, no outputs)."""
    import tensorflow as tf
    from tensorflow.compiler.xla.service import hlo_pb2

    from keras_dlss.ops import relative_position_logits

    fn = {"skew": relative_position_logits, "naive": _naive}[impl]
    query = tf.zeros((1, 1, length, depth))
    embeddings = tf.zeros((2 * length - 1, depth))
    compiled = tf.function(lambda q, e: fn(q, e, True), jit_compile=True)
    proto = compiled.experimental_get_compiler_ir(query, embeddings)(
        stage="optimized_hlo_proto_serialized"
    )
    allocations = hlo_pb2.HloProto.FromString(proto).buffer_assignment.buffer_allocations
    return sum(
        a.size for a in allocations if not a.is_entry_computation_parameter and not a.maybe_live_out
    )


def _measure(impl, length, depth, mode, repeats):
    """Runs in a child process: median time of one call."""
    import numpy as np
    import tensorflow as tf

    from keras_dlss.ops import relative_position_logits

    fn = {"skew": relative_position_logits, "naive": _naive}[impl]
    rng = np.random.default_rng(0)
    query = tf.constant(rng.normal(size=(1, 1, length, depth)).astype("float32"))
    embeddings = tf.constant(rng.normal(size=(2 * length - 1, depth)).astype("float32"))
    compiled = tf.function(lambda q, e: fn(q, e, True), jit_compile=(mode == "xla"))
    compiled(query, embeddings).numpy()  # trace / compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        compiled(query, embeddings).numpy()
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times)}


def _child(impl, length, depth, mode, repeats):
    code = (
        f"import json, sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); import relative_attention as b; "
        f"print('RESULT', json.dumps(b._measure({impl!r}, {length}, {depth}, {mode!r}, {repeats})))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}


def _mib(n):
    return f"{n / 2**20:.1f}"


def logits_table(lengths, depth, modes, repeats):
    print(f"\nRelative logits, B=H=1, D={depth}, causal")
    header = f"{'L':>6} | {'XLA extra MiB: naive':>20} {'skew':>8} {'ratio':>7} | " + " | ".join(
        f"{mode + ' ms: naive':>16} {'skew':>8} {'speedup':>8}" for mode in modes
    )
    print(header)
    print("-" * len(header))
    for length in lengths:
        naive_mem, skew_mem = (xla_extra_bytes(impl, length, depth) for impl in ("naive", "skew"))
        row = (
            f"{length:>6} | {_mib(naive_mem):>20} {_mib(skew_mem):>8} {naive_mem / skew_mem:6.0f}x"
        )
        for mode in modes:
            naive, skew = (_child(impl, length, depth, mode, repeats) for impl in ("naive", "skew"))
            if "error" in naive or "error" in skew:
                row += f" | error: {naive.get('error') or skew.get('error')}"
                continue
            row += (
                f" | {naive['seconds'] * 1e3:16.2f} {skew['seconds'] * 1e3:8.2f} "
                f"{naive['seconds'] / skew['seconds']:7.1f}x"
            )
        print(row, flush=True)
    print("extra = temporaries + constants beyond inputs and the [L, L] output")


def training_table(steps, batch_size):
    import keras

    from keras_dlss.applications import get_task

    task = get_task("music-transformer")
    data = task.load_data(seed=0)
    x, y = data.train
    x, y = x[:batch_size], y[:batch_size]
    tokens = x.size
    print(
        f"\nMusicTransformer training (task defaults, batch {batch_size} x {x.shape[1]} tokens, "
        f"{steps} steps after warm-up)"
    )
    print(f"{'dropout':>8} {'jit_compile':>12} {'tokens/s':>10} {'s/step':>8}")
    # XLA's random-number generation on CPU makes dropout expensive: show both.
    for dropout in (0.1, 0.0):
        for jit in (False, True):
            keras.utils.set_random_seed(0)
            model = task.build_model(data, jit_compile=jit, dropout=dropout)
            model.train_on_batch(x, y)  # trace / compile
            start = time.perf_counter()
            for _ in range(steps):
                model.train_on_batch(x, y)
            seconds = (time.perf_counter() - start) / steps
            print(
                f"{dropout:>8} {str(jit):>12} {tokens / seconds:10.0f} {seconds:8.3f}", flush=True
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 2048])
    parser.add_argument("--depth", type=int, default=64)
    parser.add_argument("--modes", nargs="+", default=["graph", "xla"], choices=["graph", "xla"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-logits", action="store_true")
    args = parser.parse_args()
    if not args.skip_logits:
        logits_table(args.lengths, args.depth, args.modes, args.repeats)
    if not args.skip_training:
        training_table(args.steps, args.batch_size)


if __name__ == "__main__":
    main()
