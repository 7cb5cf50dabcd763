"""Differential operators built on the single primitive `vjp`.

Each operator is a few lines, as in HIPS autograd's `differential_operators.py`:

* `grad`: the vjp of a scalar function with cotangent 1.
* `jvp`: forward mode from reverse mode by the "double vjp" trick: the vjp is
  linear in its cotangent, so the vjp *of the vjp* maps a tangent `u` to `J u`
  (Townsend, "A new trick for calculating Jacobian vector products", 2017).
* `jacobian`: vjps with every one-hot cotangent, vectorized.
* `hvp`: reverse-over-reverse, `∇ₓ⟨∇f(x), v⟩ = H v`, without forming `H`
  (Pearlmutter, "Fast exact multiplication by the Hessian", Neural Computation 1994).
* `hessian`: the Jacobian of the gradient (small inputs only).
"""

from keras import ops, tree

from keras_dlss.autodiff.core import vjp, vmap


def _argnums_tuple(argnums, nargs):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if isinstance(n, bool) or not isinstance(n, int) or not -nargs <= n < nargs:
            raise ValueError(
                f"Argument `argnums` must index the {nargs} positional argument(s). "
                f"Received: argnums={argnums!r}"
            )
    return tuple(n % nargs for n in nums)


def _vjp_wrt(f, args, argnums):
    """vjp of `f(*args)` with respect to `args[i]` for i in `nums` only."""
    nums = _argnums_tuple(argnums, len(args))

    def f_of_selected(*selected):
        full = list(args)
        for n, value in zip(nums, selected):
            full[n] = value
        return f(*full)

    return vjp(f_of_selected, *[args[n] for n in nums])


def _static_size(x):
    """Number of elements from the static shape (None when unknown): works while tracing."""
    size = 1
    for dim in x.shape:
        if dim is None:
            return None
        size *= int(dim)
    return size


def grad(f, argnums=0):
    """Returns a function computing the gradient of the scalar function `f`.

    Args:
        f: callable returning a scalar tensor (shape `()` or a single element).
        argnums: int or tuple of ints. Which positional argument(s) to
            differentiate. Defaults to `0`.

    Returns:
        `g(*args)`: the gradient, shaped like `args[argnums]` (a tuple of
        gradients when `argnums` is a tuple).

    Example:

    ```python
    g = grad(lambda x: keras.ops.sum(x**3))
    g(keras.ops.convert_to_tensor([1.0, 2.0]))  # [3.0, 12.0]
    ```
    """

    def gradient(*args):
        out, vjp_fn = _vjp_wrt(f, args, argnums)
        if tree.is_nested(out) or _static_size(out) not in (1, None):
            shape = None if tree.is_nested(out) else tuple(out.shape)
            raise ValueError(
                f"`grad` needs a function returning a scalar. Received: output shape {shape}"
            )
        grads = vjp_fn(ops.ones_like(out))
        return grads[0] if isinstance(argnums, int) else grads

    return gradient


def jvp(f, primals, tangents):
    """Jacobian-vector product `(f(*primals), J·tangents)`.

    Args:
        f: callable of tensors (nests allowed) returning a tensor or nest.
        primals: tuple (or list) of positional arguments of `f`.
        tangents: tangents with the same structure as `primals`.

    Returns:
        `(outputs, tangent_out)`: `tangent_out` is shaped like `outputs`.

    Example:

    ```python
    x = keras.ops.convert_to_tensor([1.0, 2.0])
    y, t = jvp(lambda x: x**2, (x,), (keras.ops.ones_like(x),))  # t = [2.0, 4.0]
    ```
    """
    primals, tangents = tuple(primals), tuple(tangents)
    tree.assert_same_structure(primals, tangents)
    out, vjp_fn = vjp(f, *primals)
    # vjp_fn is linear in its cotangent: its own vjp applied to `u` gives J u.
    dummy = tree.map_structure(ops.zeros_like, out)
    _, vjp_of_vjp = vjp(vjp_fn, dummy)
    (tangent_out,) = vjp_of_vjp(tangents)
    return out, tangent_out


def jacobian(f, argnums=0):
    """Returns a function computing the Jacobian of `f` (a single-tensor output).

    Args:
        f: callable returning one tensor.
        argnums: int or tuple of ints. Defaults to `0`.

    Returns:
        `jac(*args)`: a tensor of shape `output.shape + args[argnums].shape`
        (a tuple of such tensors when `argnums` is a tuple).

    Example:

    ```python
    jac = jacobian(lambda x: keras.ops.sin(x))
    jac(keras.ops.zeros([3]))  # 3x3 identity
    ```
    """

    def jac(*args):
        out, vjp_fn = _vjp_wrt(f, args, argnums)
        if tree.is_nested(out):
            raise ValueError("`jacobian` needs a function returning one tensor. Received a nest")
        n_out = _static_size(out)
        if n_out is None:
            raise ValueError(
                f"`jacobian` needs an output of static shape. Received: output shape {tuple(out.shape)}"
            )
        n_out = max(n_out, 1)
        basis = ops.reshape(ops.eye(n_out, dtype=out.dtype), (n_out, *out.shape))
        rows = vmap(lambda ct: vjp_fn(ct), basis)
        jacs = [ops.reshape(r, (*out.shape, *r.shape[1:])) for r in rows]
        return jacs[0] if isinstance(argnums, int) else tuple(jacs)

    return jac


def hvp(f, x, v):
    """Hessian-vector product `∇²f(x) v` of a scalar function, without the Hessian.

    Args:
        f: callable of one argument (a tensor or nest) returning a scalar.
        x: the point; a floating tensor or nest of them.
        v: the vector; same structure and shapes as `x`.

    Returns:
        A nest shaped like `x`.

    Example:

    ```python
    f = lambda x: keras.ops.sum(x**3)
    hvp(f, x, v)  # 6 * x * v
    ```
    """
    tree.assert_same_structure(x, v)
    # H is symmetric, so the vjp of the gradient with cotangent v is H v.
    _, vjp_fn = vjp(grad(f), x)
    return vjp_fn(v)[0]


def hessian(f, x):
    """The Hessian of a scalar function of one tensor, shape `x.shape + x.shape`.

    Forms the full matrix: for small inputs only; use `hvp` otherwise.

    Example:

    ```python
    hessian(lambda x: keras.ops.sum(x**3), x)  # diag(6 x)
    ```
    """
    return jacobian(grad(f))(x)
