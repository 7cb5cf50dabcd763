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
        u = ops.convert_to_tensor(u / (np.linalg.norm(u) or 1.0), "float64")
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


def numerical_columns(fn, leaves, i, eps, n_out):
    """Returns `columns(start) -> (plus, minus)`, each [chunk, n_out] (numpy).

    Row k holds f(θ ± ε e_j) flattened for j = start + k (clamped to the last
    element; callers drop rows past the end).
    """
    _require_tensorflow()
    import tensorflow as tf

    leaf = leaves[i]
    shape, n = tuple(leaf.shape), int(np.prod(leaf.shape))
    chunk = int(max(1, min(n, 256, (1 << 22) // max(n_out, 1))))
    flat = tf.reshape(leaf, [-1])

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
        _, plus, minus = tf.while_loop(
            lambda k, *_: k < chunk,
            body,
            (tf.constant(0), zeros, zeros),
            maximum_iterations=chunk,
        )
        return plus, minus

    graph = tf.function(columns, jit_compile=False, autograph=False)
    # XLA compilation costs about a second: worth it only for many perturbations.
    compiled = tf.function(columns, jit_compile=True, autograph=False) if n > 2048 else graph
    state = {"fn": compiled}

    def run(start):
        try:
            plus, minus = state["fn"](tf.constant(start, tf.int32))
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
            if state["fn"] is graph:
                raise
            state["fn"] = graph  # an op without an XLA kernel: run the plain graph
            plus, minus = graph(tf.constant(start, tf.int32))
        return plus.numpy(), minus.numpy()

    return run, chunk


def _require_tensorflow():
    if keras.config.backend() != "tensorflow":
        raise NotImplementedError(
            "gradient_check(fast_mode=False) runs on the TensorFlow backend. "
            f"Received: keras.config.backend()={keras.config.backend()!r}; use fast_mode=True."
        )
