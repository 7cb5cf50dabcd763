"""Central finite differences and analytical Jacobians for `gradient_check` (internal).

`fn(leaves) -> list of float64 tensors` is a pure function of the list of
differentiable tensors. Full mode compares, per leaf, the analytical Jacobian
(reverse mode, all output rows vectorized at once) with numerical columns
`(f(θ + ε e_j) - f(θ - ε e_j)) / 2ε`. The columns are produced by one compiled
loop per chunk of elements (XLA on TensorFlow), so each perturbation costs two
forward passes with no Python or op-dispatch overhead, and the part of the
forward pass that does not depend on the perturbed tensor is hoisted out of the
loop by the compiler.
"""

import concurrent.futures
import os
import time

import keras
import numpy as np
from keras import ops

from keras_dlss.autodiff.core import vjp


def flat_outputs(outputs):
    return ops.concatenate([ops.reshape(o, (-1,)) for o in outputs], axis=0)


def _replace(leaves, i, value):
    leaves = list(leaves)
    leaves[i] = value
    return leaves


def kinks(plus, minus, base, eps, atol, rtol):
    """Entries whose one-sided differences disagree: a kink lies within `eps`."""
    fwd = (plus - base) / eps
    bwd = (base - minus) / eps
    return np.abs(fwd - bwd) > atol + rtol * np.maximum(np.abs(fwd), np.abs(bwd))


def fast_projections(fn, leaves, eps, rng):
    """Per leaf: (vᵀJu analytical, f(θ±εu) projected on v, vᵀf(θ)) for random unit u, v."""
    out, vjp_fn = vjp(lambda *ls: fn(list(ls)), *leaves)
    vs = [rng.standard_normal(tuple(o.shape)) for o in out]
    norm = np.sqrt(sum(float(np.sum(v * v)) for v in vs)) or 1.0
    vs = [ops.convert_to_tensor(v / norm, "float64") for v in vs]
    grads = vjp_fn(vs)

    def project(outputs):
        return float(sum(ops.convert_to_numpy(ops.sum(o * v)) for o, v in zip(outputs, vs)))

    base = project(out)
    projections = []
    for i, leaf in enumerate(leaves):
        u = rng.standard_normal(tuple(leaf.shape))
        u = ops.convert_to_tensor(u / (np.sqrt(np.sum(u * u)) or 1.0), "float64")  # no BLAS
        analytical = float(ops.convert_to_numpy(ops.sum(grads[i] * u)))
        plus = project(fn(_replace(leaves, i, leaf + eps * u)))
        minus = project(fn(_replace(leaves, i, leaf - eps * u)))
        projections.append((analytical, plus, minus))
    return projections, base


def analytical_jacobian(fn, leaves, i):
    """[n_out, n_i] Jacobian of the flattened outputs with respect to `leaves[i]`."""
    _require_tensorflow()
    import tensorflow as tf

    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(leaves[i])
        out = flat_outputs(fn(leaves))
    jac = tape.jacobian(out, leaves[i], experimental_use_pfor=True)
    if jac is None:
        jac = tf.zeros([out.shape[0], *leaves[i].shape], tf.float64)
    return np.reshape(jac.numpy(), (int(out.shape[0]), -1))


def numerical_chunks(fn, leaves, i, eps, n_out):
    """Yields `(start, plus, minus)` until every element of `leaves[i]` is covered.

    `plus[k]` / `minus[k]` hold f(θ ± ε e_j) flattened for j = start + k (rows past
    the end repeat the last element; callers drop them). Small tensors run one
    graph loop. Large ones compile two XLA kernels, one perturbation per loop step
    or `_VECTOR` perturbations vectorized per step (which wins depends on where the
    tensor sits in the graph), keep the faster, and run the remaining chunks on
    all cores.
    """
    _require_tensorflow()
    import tensorflow as tf

    n = int(np.prod(leaves[i].shape))
    chunk = int(max(1, min(n, 256, (1 << 22) // max(n_out, 1))))
    starts = list(range(0, n, chunk))
    if n <= _SMALL:
        run = _runner(tf.function(_loop(fn, leaves, i, eps, n_out, chunk), autograph=False))
        for start in starts:
            yield (start, *run(start))
        return
    kernels = [_loop(fn, leaves, i, eps, n_out, chunk)]
    vector = int(min(_VECTOR, max(1, (1 << 21) // n)))
    if chunk % vector == 0:
        kernels.append(_vectorized(fn, leaves, i, eps, n_out, chunk, vector))
    runs = [_runner(tf.function(k, jit_compile=True, autograph=False)) for k in kernels]
    xla_errors = (
        tf.errors.InvalidArgumentError,
        tf.errors.UnimplementedError,
        tf.errors.NotFoundError,
    )
    best, best_time = None, float("inf")
    for run in runs:
        if len(starts) < 2:
            break
        try:
            first = run(starts[0])  # compiles
        except xla_errors:
            continue  # an op without an XLA kernel
        tic = time.perf_counter()
        second = run(starts[1])
        elapsed = time.perf_counter() - tic
        yield (starts[0], *first)
        yield (starts[1], *second)
        starts = starts[2:]
        if elapsed < best_time:
            best, best_time = run, elapsed
    if best is None:
        best = _runner(tf.function(kernels[0], autograph=False))
    # As many chunks in flight as TensorFlow may use threads (all cores by default).
    configured = tf.config.threading.get_intra_op_parallelism_threads()
    workers = max(1, min(configured or os.cpu_count() or 1, 4))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for start, result in zip(starts, pool.map(best, starts)):
            yield (start, *result)


_SMALL = 2048  # below this, XLA compilation costs more than it saves
_VECTOR = 16


def _runner(kernel):
    import tensorflow as tf

    def run(start):
        plus, minus = kernel(tf.constant(start, tf.int32))
        return plus.numpy(), minus.numpy()

    return run


def _loop(fn, leaves, i, eps, n_out, chunk):
    """One perturbation per loop step: the forward pass upstream of the tensor is hoisted."""
    import tensorflow as tf

    shape = tuple(leaves[i].shape)
    n = int(np.prod(shape))
    flat = tf.reshape(leaves[i], [-1])

    def evaluate(j, delta):
        perturbed = tf.tensor_scatter_nd_add(flat, [[j]], tf.constant([delta], tf.float64))
        return flat_outputs(fn(_replace(leaves, i, tf.reshape(perturbed, shape))))

    def columns(start):
        def body(k, plus, minus):
            j = tf.minimum(start + k, n - 1)
            plus = tf.tensor_scatter_nd_update(plus, [[k]], evaluate(j, eps)[None])
            minus = tf.tensor_scatter_nd_update(minus, [[k]], evaluate(j, -eps)[None])
            return k + 1, plus, minus

        zeros = tf.zeros([chunk, n_out], tf.float64)
        loop = (tf.constant(0), zeros, zeros)
        _, plus, minus = tf.while_loop(
            lambda k, *_: k < chunk, body, loop, maximum_iterations=chunk
        )
        return plus, minus

    return columns


def _vectorized(fn, leaves, i, eps, n_out, chunk, vector):
    """`vector` perturbations (and their negatives) per loop step, batched by pfor."""
    import tensorflow as tf

    shape = tuple(leaves[i].shape)
    n = int(np.prod(shape))
    flat = tf.reshape(leaves[i], [-1])

    def evaluate(perturbed):
        return flat_outputs(fn(_replace(leaves, i, tf.reshape(perturbed, shape))))

    def columns(start):
        def body(k, plus, minus):
            rows = k * vector + tf.range(vector)
            basis = tf.one_hot(tf.minimum(start + rows, n - 1), n, dtype=tf.float64) * eps
            batch = tf.concat([flat[None] + basis, flat[None] - basis], axis=0)
            out = tf.vectorized_map(evaluate, batch, fallback_to_while_loop=True, warn=False)
            plus = tf.tensor_scatter_nd_update(plus, rows[:, None], out[:vector])
            minus = tf.tensor_scatter_nd_update(minus, rows[:, None], out[vector:])
            return k + 1, plus, minus

        zeros = tf.zeros([chunk, n_out], tf.float64)
        steps = chunk // vector
        loop = (tf.constant(0), zeros, zeros)
        _, plus, minus = tf.while_loop(
            lambda k, *_: k < steps, body, loop, maximum_iterations=steps
        )
        return plus, minus

    return columns


def _require_tensorflow():
    if keras.config.backend() != "tensorflow":
        raise NotImplementedError(
            "gradient_check(fast_mode=False) runs on the TensorFlow backend. "
            f"Received: keras.config.backend()={keras.config.backend()!r}; use fast_mode=True."
        )
