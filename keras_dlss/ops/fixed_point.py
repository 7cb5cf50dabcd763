"""Fixed points with implicit differentiation (deep equilibrium models).

Bai, Kolter and Koltun, "Deep Equilibrium Models", NeurIPS 2019
(arXiv:1909.01377); Kolter, Duvenaud and Johnson, "Deep Implicit Layers"
tutorial, NeurIPS 2020, chapter 4. Anderson acceleration: Anderson, "Iterative
procedures for nonlinear integral equations", JACM 1965; Walker and Ni, SIAM J.
Numer. Anal. 2011.

Forward: z* = f(z*, x, θ) by a bounded fixed-point iteration (optionally
Anderson-accelerated). Backward, by the implicit function theorem: with
J = ∂f/∂z at z*, the vector-Jacobian product of the solution map is

    ∂L/∂(x, θ) = wᵀ ∂f/∂(x, θ),   where   w = g + Jᵀ w         (g = ∂L/∂z*),

and the adjoint w is itself a fixed point, solved by the same bounded
iteration. Nothing from the forward iterations is kept: memory does not grow
with the number of iterations.
"""

import keras
from keras import ops

from keras_dlss import _validation as v
from keras_dlss.autodiff.core import vjp


def solve_fixed_point(
    fn,
    z0,
    *,
    max_iterations=50,
    tolerance=1e-5,
    anderson_memory=0,
    damping=1.0,
    regularization=1e-6,
):
    """Solves z = fn(z) from `z0` with a bounded (XLA-compilable) loop.

    Args:
        fn: callable `[B, ...] -> [B, ...]` (same shape and dtype).
        z0: initial guess `[B, ...]`.
        max_iterations: int >= 1. Bound on the number of `fn` evaluations.
        tolerance: float >= 0. Stop once `max |fn(z) - z| <= tolerance` over the
            whole batch; `0` always runs `max_iterations` (a smooth function of the
            inputs, useful for finite-difference checks).
        anderson_memory: int >= 0. History size m of Anderson acceleration; `0` or
            `1` is the plain (damped) iteration.
        damping: float in (0, 1]. β in z ← (1 - β) z + β fn(z) (and in Anderson's
            mixing).
        regularization: float > 0. Ridge term of Anderson's least squares,
            relative to the residuals' scale.

    Returns:
        `(z, residual)`: the solution and `max |fn(z) - z|` at the last iterate.

    Example:

    ```python
    z, residual = solve_fixed_point(lambda z: 0.5 * ops.cos(z), ops.zeros((2, 3)))
    ```
    """
    max_iterations = v.check_positive_int("max_iterations", max_iterations)
    tolerance = v.check_range("tolerance", tolerance, 0)
    anderson_memory = v.check_positive_int("anderson_memory", anderson_memory, minimum=0)
    damping = v.check_range("damping", damping, 0, 1, low_inclusive=False)
    regularization = v.check_range("regularization", regularization, 0, low_inclusive=False)
    z0 = ops.convert_to_tensor(z0)
    v.check_dtype_kind("z0", z0, "floating")
    fn = _checked_fn(fn, z0)
    if anderson_memory > 1:
        v.check_min_rank("z0", z0, 1)  # the history is kept per batch row
        return _anderson(
            fn, z0, max_iterations, tolerance, anderson_memory, damping, regularization
        )
    return _picard(fn, z0, max_iterations, tolerance, damping)


def _checked_fn(fn, z0):
    """`fn`, checked to return the static shape and dtype of `z0`.

    The check runs when the loop body is traced (free in the graph); without it
    the backend's while loop fails deep inside with a loop-invariant error.
    """
    dtype = keras.backend.standardize_dtype(z0.dtype)

    def checked(z):
        fz = fn(z)
        shape = getattr(fz, "shape", None)
        fz_dtype = getattr(fz, "dtype", None)
        fz_dtype = None if fz_dtype is None else keras.backend.standardize_dtype(fz_dtype)
        if shape is None or not v.shapes_compatible(shape, z0.shape) or fz_dtype != dtype:
            raise ValueError(
                "Argument `fn` must return a tensor with the shape and dtype of `z0` "
                f"({v.shape_str(z0.shape)}, {dtype}). Received: fn(z).shape="
                f"{None if shape is None else v.shape_str(shape)}, fn(z).dtype={fz_dtype}"
            )
        return fz

    return checked


def _residual(fz, z):
    return ops.max(ops.abs(fz - z))


def _picard(fn, z0, max_iterations, tolerance, damping):
    def cond(k, z, res):
        return ops.logical_and(k < max_iterations, res > tolerance)

    def body(k, z, res):
        fz = fn(z)
        return k + 1, (1.0 - damping) * z + damping * fz, _residual(fz, z)

    inf = ops.convert_to_tensor(float("inf"), z0.dtype)
    _, z, res = ops.while_loop(cond, body, (0, z0, inf), maximum_iterations=max_iterations)
    return z, res


def _anderson(fn, z0, max_iterations, tolerance, m, damping, regularization):
    """Type-II Anderson acceleration with a fixed-size circular history (static shapes)."""
    shape, dtype = ops.shape(z0), z0.dtype
    batch = shape[0]

    def g(flat):
        return ops.reshape(fn(ops.reshape(flat, shape)), ops.shape(flat))

    x0 = ops.reshape(z0, (batch, -1))
    f0 = g(x0)
    slot0 = ops.one_hot(0, m, dtype=dtype)
    xs = slot0[None, :, None] * x0[:, None, :]
    fs = slot0[None, :, None] * f0[:, None, :]
    eye = ops.eye(m, dtype=dtype)

    def cond(k, xs, fs, valid, last, res):
        return ops.logical_and(k < max_iterations, res > tolerance)

    def body(k, xs, fs, valid, last, res):
        alpha = _anderson_weights(fs - xs, valid, eye, regularization)
        x_new = ops.einsum("bm,bmn->bn", alpha, damping * fs + (1.0 - damping) * xs)
        f_new = g(x_new)
        slot = ops.one_hot(k % m, m, dtype=dtype)[None, :, None]
        xs = (1 - slot) * xs + slot * x_new[:, None, :]
        fs = (1 - slot) * fs + slot * f_new[:, None, :]
        return k + 1, xs, fs, ops.maximum(valid, slot[0, :, 0]), f_new, _residual(f_new, x_new)

    loop = (1, xs, fs, slot0, f0, _residual(f0, x0))
    *_, last, res = ops.while_loop(cond, body, loop, maximum_iterations=max_iterations)
    return ops.reshape(last, shape), res


def _anderson_weights(residuals, valid, eye, regularization):
    """argmin_α ||Σ α_i G_i||² + λ||α||² s.t. Σ α_i = 1 over valid slots ([B, m])."""
    dtype = residuals.dtype
    if keras.backend.standardize_dtype(dtype) in (
        "float16",
        "bfloat16",
    ):  # no half-precision solve kernels; too coarse anyway
        residuals, valid, eye = (ops.cast(t, "float32") for t in (residuals, valid, eye))
    gram = ops.einsum("bin,bjn->bij", residuals, residuals)
    scale = ops.sum(ops.diagonal(gram, axis1=1, axis2=2), axis=-1) / ops.sum(valid)
    gram = gram + (regularization * scale + 1e-30)[:, None, None] * eye[None]
    batch, m = ops.shape(gram)[0], ops.shape(gram)[1]
    # Bordered KKT system [[0, vᵀ], [v, GGᵀ + λI]] [μ; α] = [1; 0]; α_i = 0 off `valid`.
    border = ops.broadcast_to(valid[None, None, :], (batch, 1, m))
    top = ops.concatenate([ops.zeros((batch, 1, 1), gram.dtype), border], axis=-1)
    bottom = ops.concatenate([ops.transpose(border, (0, 2, 1)), gram], axis=-1)
    system = ops.concatenate([top, bottom], axis=1)
    rhs = ops.broadcast_to(
        ops.one_hot(0, m + 1, dtype=gram.dtype)[None, :, None], (batch, m + 1, 1)
    )
    return ops.cast(ops.linalg.solve(system, rhs)[:, 1:, 0] * valid[None], dtype)


def implicit_fixed_point(f, x, params, z0, *, backward_options=None, **forward_options):
    """z* = f(z*, x, params) with gradients by the implicit function theorem.

    Args:
        f: callable `(z, x, params) -> z'` with `z'` shaped like `z`; `params` is
            a list of tensors (a layer's weights).
        x: input tensor (or nest) injected at every iteration.
        params: list of float tensors differentiated through the fixed point.
        z0: initial guess, `[B, ...]`.
        backward_options: dict of `solve_fixed_point` options for the adjoint
            solve; defaults to the forward options.
        **forward_options: `solve_fixed_point` options for the forward solve.

    Returns:
        z*, differentiable with respect to `x` and `params` (not `z0`).

    Example:

    ```python
    f = lambda z, x, p: ops.tanh(ops.matmul(z, p[0]) + x)
    z = implicit_fixed_point(f, x, [w], ops.zeros_like(x), max_iterations=30)
    ```
    """
    backward_options = dict(forward_options if backward_options is None else backward_options)
    params = list(params)
    for leaf in keras.tree.flatten(x):
        v.check_dtype_kind("x", leaf, "floating")  # differentiated: ids have no gradient
    for i, param in enumerate(params):
        v.check_dtype_kind(f"params[{i}]", param, "floating")
    z0 = ops.convert_to_tensor(z0)
    v.check_min_rank("z0", z0, 1)
    v.check_dtype_kind("z0", z0, "floating")
    n_params = len(params)

    @ops.custom_gradient
    def solve(x, z0, *params):
        params = list(params)
        z_star, _ = solve_fixed_point(lambda z: f(z, x, params), z0, **forward_options)
        z_star = ops.stop_gradient(z_star)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            # Detached again here: PyTorch attaches this function's backward
            # node to the returned tensor, and differentiating through it from
            # inside that backward would recurse forever.
            z_fixed = ops.stop_gradient(z_star)
            _, vjp_z = vjp(lambda z: f(z, x, params), z_fixed)
            adjoint, _ = solve_fixed_point(
                lambda w: upstream + vjp_z(w)[0], upstream, **backward_options
            )
            _, vjp_xp = vjp(lambda x_, *p: f(z_fixed, x_, list(p)), x, *params)
            grads = vjp_xp(adjoint)
            return (grads[0], ops.zeros_like(z0), *grads[1 : 1 + n_params])

        return z_star, grad

    return solve(x, z0, *params)
