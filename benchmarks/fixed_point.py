"""Implicit (implicit-function-theorem) vs unrolled backward through a fixed point.

One training step (loss, gradients w.r.t. the input and the weights) of a
deep-equilibrium cell z = tanh(z W + x U + b) (batch 64, x 64-d, z 256-d),
solved by K plain fixed-point iterations (tolerance 0, so both run exactly K):

- implicit: `keras_dlss.ops.implicit_fixed_point` (what `FixedPointLayer` uses):
  the forward iterations keep nothing; the backward solves the adjoint fixed
  point with K more iterations.
- unrolled: the same K iterations in a `while` loop differentiated by the
  backend, which stores every iterate for the backward pass.

Memory is exact for XLA: the compiled step's temporary buffers (excluding
parameters and outputs), from `experimental_get_compiler_ir(stage=
"optimized_hlo_proto_serialized")`. Time is the median of `--repeats` compiled
calls after a warm-up.

    python benchmarks/fixed_point.py
    python benchmarks/fixed_point.py --iterations 10 100 --repeats 5
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BATCH, X_DIM, Z_DIM = 64, 64, 256


def _cell(z, x, params):
    from keras import ops

    w, u, b = params
    return ops.tanh(ops.matmul(z, w) + ops.matmul(x, u) + b)


def _step(kind, iterations):
    import tensorflow as tf

    from keras_dlss.ops import implicit_fixed_point

    def loss_and_grads(x, w, u, b):
        with tf.GradientTape() as tape:
            tape.watch([x, w, u, b])
            z0 = tf.zeros((BATCH, Z_DIM))
            if kind == "implicit":
                z = implicit_fixed_point(
                    _cell, x, [w, u, b], z0, max_iterations=iterations, tolerance=0.0
                )
            else:
                z = tf.while_loop(
                    lambda k, z: k < iterations,
                    lambda k, z: (k + 1, _cell(z, x, [w, u, b])),
                    (tf.constant(0), z0),
                    maximum_iterations=iterations,
                )[1]
            loss = tf.reduce_mean(tf.square(z))
        return loss, tape.gradient(loss, [x, w, u, b])

    return tf.function(loss_and_grads, jit_compile=True, autograph=False)


def _inputs():
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, X_DIM)).astype("float32")
    w = (0.3 / np.sqrt(Z_DIM) * rng.standard_normal((Z_DIM, Z_DIM))).astype("float32")
    u = (rng.standard_normal((X_DIM, Z_DIM)) / np.sqrt(X_DIM)).astype("float32")
    b = np.zeros(Z_DIM, "float32")
    return [tf.constant(a) for a in (x, w, u, b)]


def _temp_bytes(step, args):
    from tensorflow.compiler.xla.service import hlo_pb2

    proto = step.experimental_get_compiler_ir(*args)(stage="optimized_hlo_proto_serialized")
    allocations = hlo_pb2.HloProto.FromString(proto).buffer_assignment.buffer_allocations
    return sum(
        a.size for a in allocations if not a.is_entry_computation_parameter and not a.maybe_live_out
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, nargs="+", default=[10, 30, 100])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    import numpy as np

    inputs = _inputs()
    print(f"DEQ cell tanh(zW + xU + b), batch {BATCH}, x {X_DIM}-d, z {Z_DIM}-d, XLA, CPU")
    print(f"{'K':>5} {'backward':<9} {'step ms':>9} {'temp MiB':>9} {'max |grad diff|':>16}")
    for k in args.iterations:
        grads = {}
        for kind in ("implicit", "unrolled"):
            step = _step(kind, k)
            grads[kind] = [g.numpy() for g in step(*inputs)[1]]  # compile
            times = []
            for _ in range(args.repeats):
                tic = time.perf_counter()
                step(*inputs)[0].numpy()
                times.append(time.perf_counter() - tic)
            mib = _temp_bytes(step, inputs) / 2**20
            diff = (
                ""
                if kind == "implicit"
                else max(
                    float(np.max(np.abs(a - b)))
                    for a, b in zip(grads["implicit"], grads["unrolled"])
                )
            )
            diff = f"{diff:.2e}" if diff != "" else "-"
            print(
                f"{k:>5} {kind:<9} {1e3 * statistics.median(times):>9.2f} {mib:>9.2f} {diff:>16}",
                flush=True,
            )


if __name__ == "__main__":
    main()
