"""Central finite differences and analytical Jacobians for `gradient_check` (internal).

`fn(leaves) -> list of float64 tensors` is a pure function of the list of
differentiable tensors. Full mode compares, per leaf, the analytical Jacobian
(reverse mode, all output rows vectorized at once) with numerical columns
`(f(θ + ε e_j) - f(θ - ε e_j)) / 2ε`. The columns are produced by one compiled
loop per chunk of elements (XLA on TensorFlow), so each perturbation costs two
forward passes with no Python or op-dispatch overhead, and the part of the
forward pass that does not depend on the perturbed tensor is hoisted out of the
loop by the compiler.

Every fast path has a slow twin, because a checked function may run only
eagerly: a hand-written `custom_gradient` whose backward calls NumPy cannot be
traced by pfor, and the gradient of such a function (order 2) cannot be traced
into a graph at all. The Jacobian's rows are one vectorized map of VJPs (pfor on
TensorFlow, `jax.vmap`) or else a loop of VJPs; the numerical columns come from
compiled loops on TensorFlow, else from a vectorized map of forward passes, else
from a loop of them. A path that fails once for a function is recorded in its
`Fallbacks` and not tried again; the last path in each chain has nothing to fall
back to, so an error the function raises for its own reasons still reaches the
user. Before any Jacobian is assembled, one VJP checks that the gradient has the
shape of its tensor: TensorFlow's `custom_gradient` does not check, and a
mis-shaped gradient (a bias gradient not summed over the batch) would otherwise
broadcast into a passing projection or break the vectorized Jacobian.
"""

import concurrent.futures
import os
import time

import keras
import numpy as np
from keras import ops

from keras_dlss.autodiff.core import vjp, vmap


class Fallbacks:
    """The vectorized and compiled paths that failed once for one checked function.

    Attributes:
        vectorized_rows: Jacobian rows as one vectorized map of VJPs.
        vectorized_columns: finite differences as one vectorized map of forward passes.
        compiled: finite differences in compiled TensorFlow loops.
    """

    def __init__(self):
        self.vectorized_rows = True
        self.vectorized_columns = True
        self.compiled = True


class WrongGradientShape(Exception):
    """The backend's gradient for a tensor does not have the tensor's shape."""

    def __init__(self, shape):
        super().__init__(shape)
        self.shape = tuple(int(d) for d in shape)


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
    """Returns `(projections, base)` for random unit vectors u (one per leaf) and v.

    `projections[i]` is `(vᵀJu, vᵀf(θ+εu), vᵀf(θ-εu), gradient shape)`; the
    analytical `vᵀJu` is NaN when the gradient's shape is not the leaf's (no
    broadcasting into a projection that could pass). `base` is `vᵀf(θ)`.
    """
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
        grad_shape = tuple(grads[i].shape)
        analytical = float("nan")
        if grad_shape == tuple(leaf.shape):
            analytical = float(ops.convert_to_numpy(ops.sum(grads[i] * u)))
        plus = project(fn(_replace(leaves, i, leaf + eps * u)))
        minus = project(fn(_replace(leaves, i, leaf - eps * u)))
        projections.append((analytical, plus, minus, grad_shape))
    return projections, base


def analytical_jacobian(fn, leaves, i, fallbacks):
    """[n_out, n_i] Jacobian of the flattened outputs with respect to `leaves[i]`.

    One forward pass, then one VJP per output row: all rows in one vectorized
    map unless that failed before for `fn` (see `fallbacks`), else a loop.

    Raises:
        WrongGradientShape: the gradient does not have the shape of `leaves[i]`.
    """
    out, vjp_fn = vjp(lambda leaf: flat_outputs(fn(_replace(leaves, i, leaf))), leaves[i])
    n_out = int(out.shape[0])

    def row(cotangent):
        return vjp_fn(cotangent)[0]

    probe = row(ops.ones_like(out))
    if tuple(probe.shape) != tuple(leaves[i].shape):
        raise WrongGradientShape(probe.shape)
    basis = ops.eye(n_out, dtype="float64")
    jac = None
    if fallbacks.vectorized_rows:
        try:
            jac = vmap(row, basis)
        except Exception:  # pfor cannot trace the backward (NumPy in a custom gradient)
            fallbacks.vectorized_rows = False
    if jac is None:
        jac = ops.stack([row(basis[k]) for k in range(n_out)])
    return np.reshape(ops.convert_to_numpy(jac), (n_out, -1))


def numerical_chunks(fn, leaves, i, eps, n_out, fallbacks):
    """Yields `(start, plus, minus)` until every element of `leaves[i]` is covered.

    `plus[k]` / `minus[k]` hold f(θ ± ε e_j) flattened for j = start + k (rows past
    the end are dropped by callers). On TensorFlow the columns come from compiled
    loops (`_compiled_chunks`); where `fn` cannot be traced into a graph, and on
    other backends, from `_mapped_chunks`.
    """
    if keras.config.backend() == "tensorflow" and fallbacks.compiled:
        chunks = _compiled_chunks(fn, leaves, i, eps, n_out)
        try:
            first = next(chunks)  # traces and compiles
        except StopIteration:
            return
        except Exception:  # `fn` runs only eagerly
            fallbacks.compiled = False
        else:
            yield first
            yield from chunks
            return
    yield from _mapped_chunks(fn, leaves, i, eps, n_out, fallbacks)


def _mapped_chunks(fn, leaves, i, eps, n_out, fallbacks):
    """Chunks of perturbations in one vectorized map each (else a loop), on any backend."""
    shape = tuple(leaves[i].shape)
    n = int(np.prod(shape))
    flat = ops.convert_to_numpy(ops.reshape(leaves[i], (-1,)))
    chunk = int(max(1, min(n, 256, (1 << 22) // max(n, n_out, 1))))

    def evaluate(perturbed):
        return flat_outputs(fn(_replace(leaves, i, ops.reshape(perturbed, shape))))

    for start in range(0, n, chunk):
        k = min(chunk, n - start)
        basis = np.zeros((k, n))
        basis[np.arange(k), start + np.arange(k)] = eps
        batch = np.concatenate([flat[None] + basis, flat[None] - basis])
        out = None
        if fallbacks.vectorized_columns:
            try:
                out = ops.convert_to_numpy(vmap(evaluate, ops.convert_to_tensor(batch)))
            except Exception:  # `fn` cannot be vectorized
                fallbacks.vectorized_columns = False
        if out is None:
            out = np.stack(
                [ops.convert_to_numpy(evaluate(ops.convert_to_tensor(b))) for b in batch]
            )
        yield start, out[:k], out[k:]


def _compiled_chunks(fn, leaves, i, eps, n_out):
    """Chunks of perturbations in compiled TensorFlow loops.

    Small tensors run one graph loop. Large ones compile two XLA kernels, one
    perturbation per loop step or `_VECTOR` perturbations vectorized per step
    (which wins depends on where the tensor sits in the graph), keep the faster,
    and run the remaining chunks on all cores. Rows past the end repeat the last
    element.
    """
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
