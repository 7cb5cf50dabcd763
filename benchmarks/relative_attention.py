"""Skewed vs naive relative position logits, and MusicTransformer training speed.

Part 1 compares `keras_dlss.ops.relative_position_logits` (Huang et al.'s
pad-reshape-slice skew) with the naive Shaw et al. implementation that gathers
an `[L, L, D]` tensor of embeddings, for one head (B = H = 1, D = 64), causal.
"Extra memory" is what the computation allocates beyond its inputs and its
`[L, L]` output (which any attention needs):

- XLA: exact, from the compiled program's buffer assignment (temporaries and
  constants), read from `experimental_get_compiler_ir(stage=
  "optimized_hlo_proto_serialized")`.
- graph (`tf.function`, no XLA): the rise of the peak RSS of a fresh subprocess
  during one call minus the output; allocator noise of a few MiB.

Times are the median of several calls after a warm-up (graph and XLA).

Part 2 trains the `music-transformer` task's default model on windows of the
embedded Bach chorales and reports training tokens/s with and without XLA.

    python benchmarks/relative_attention.py            # both parts
    python benchmarks/relative_attention.py --lengths 256 1024 --skip-training
"""

import argparse
import json
import os
import resource
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
    """Runs in a child process: peak-RSS rise and median time of one call."""
    import numpy as np
    import tensorflow as tf

    from keras_dlss.ops import relative_position_logits

    fn = {"skew": relative_position_logits, "naive": _naive}[impl]
    rng = np.random.default_rng(0)
    query = tf.constant(rng.normal(size=(1, 1, length, depth)).astype("float32"))
    embeddings = tf.constant(rng.normal(size=(2 * length - 1, depth)).astype("float32"))
    compiled = tf.function(lambda q, e: fn(q, e, True), jit_compile=(mode == "xla"))
    concrete = compiled.get_concrete_function(query, embeddings) if mode == "graph" else compiled
    if mode == "xla":  # compile on a tiny input first so compile memory is not counted
        compiled(query[:, :, :8], embeddings[: 2 * 8 - 1])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out = concrete(query, embeddings)
    _ = out.numpy()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    output_bytes = length * length * 4
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        concrete(query, embeddings).numpy()
        times.append(time.perf_counter() - start)
    return {
        "extra_bytes": max(peak - before - output_bytes, 0),
        "seconds": statistics.median(times),
    }


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
    print(
        f"\nRelative logits, B=H=1, D={depth}, causal: extra memory beyond inputs and [L, L] output"
    )
    header = (
        f"{'L':>6} | {'XLA naive MiB':>13} {'XLA skew MiB':>12} {'ratio':>7} | "
        f"{'graph naive MiB':>15} {'graph skew MiB':>14} {'ratio':>7}"
    )
    print(header)
    print("-" * len(header))
    timings = {}
    for length in lengths:
        xla = [xla_extra_bytes(impl, length, depth) for impl in ("naive", "skew")]
        runs = {
            (impl, mode): _child(impl, length, depth, mode, repeats)
            for mode in modes
            for impl in ("naive", "skew")
        }
        timings[length] = runs
        graph = [runs.get((impl, "graph"), {}).get("extra_bytes") for impl in ("naive", "skew")]
        graph_cols = (
            f"{_mib(graph[0]):>15} {_mib(graph[1]):>14} {graph[0] / max(graph[1], 1):6.0f}x"
            if None not in graph
            else f"{'n/a':>15} {'n/a':>14} {'':>7}"
        )
        print(
            f"{length:>6} | {_mib(xla[0]):>13} {_mib(xla[1]):>12} {xla[0] / max(xla[1], 1):6.0f}x | "
            + graph_cols
        )
    print(f"\n{'mode':>6} {'L':>6} | {'naive ms':>9} {'skew ms':>9} {'speedup':>8}")
    for length, runs in timings.items():
        for mode in modes:
            naive, skew = runs[("naive", mode)], runs[("skew", mode)]
            if "error" in naive or "error" in skew:
                print(f"{mode:>6} {length:>6} | error: {naive.get('error') or skew.get('error')}")
                continue
            print(
                f"{mode:>6} {length:>6} | {naive['seconds'] * 1e3:9.2f} {skew['seconds'] * 1e3:9.2f} "
                f"{naive['seconds'] / skew['seconds']:7.1f}x"
            )


def training_table(steps, batch_size):
    import keras
    import numpy as np

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
    print(f"{'jit_compile':>12} {'tokens/s':>10} {'s/step':>8}")
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        model = task.build_model(data, jit_compile=jit)
        model.train_on_batch(x, y)  # trace / compile
        start = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(x, y)
        seconds = (time.perf_counter() - start) / steps
        print(f"{str(jit):>12} {tokens / seconds:10.0f} {seconds:8.3f}")
    del np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 2048])
    parser.add_argument("--depth", type=int, default=64)
    parser.add_argument("--modes", nargs="+", default=["graph", "xla"], choices=["graph", "xla"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()
    logits_table(args.lengths, args.depth, args.modes, args.repeats)
    if not args.skip_training:
        training_table(args.steps, args.batch_size)


if __name__ == "__main__":
    main()
