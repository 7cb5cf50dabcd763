"""The one primitive of `keras_dlss.autodiff`: the vector-Jacobian product.

Reverse-mode automatic differentiation in the style of HIPS autograd's
`make_vjp` (Maclaurin, Duvenaud and Adams, "Autograd: Effortless gradients in
Numpy", ICML AutoML workshop 2015): `vjp(f, *primals)` evaluates `f` once while
recording, and returns a function that pulls any cotangent of the output back to
the inputs. Every other operator (`grad`, `jvp`, `jacobian`, `hvp`, `hessian`)
is a few lines on top of it, in `differential_operators.py`.

The recording is backend-specific and fenced here: `tf.GradientTape` on the
TensorFlow backend; `jax.vjp` / `jax.vmap` on JAX; a retained `torch.autograd`
graph on PyTorch (not `torch.func`, which cannot trace the `autograd.Function`
behind Keras's `custom_gradient`). Other backends raise `NotImplementedError`.
"""

import keras
from keras import ops, tree

_SUPPORTED = ("tensorflow", "jax", "torch")


def _backend():
    name = keras.config.backend()
    if name not in _SUPPORTED:
        raise NotImplementedError(
            f"keras_dlss.autodiff supports the {', '.join(_SUPPORTED)} backends. "
            f"Received: keras.config.backend()={name!r}"
        )
    return name


def _to_float_tensor(x):
    x = ops.convert_to_tensor(x)
    if not _is_floating(x.dtype):
        raise ValueError(
            "Arguments to differentiate must be floating-point tensors. "
            f"Received: a tensor of dtype {keras.backend.standardize_dtype(x.dtype)}"
        )
    return x


def _is_floating(dtype):
    return "float" in keras.backend.standardize_dtype(dtype)


def vjp(f, *primals):
    """Evaluates `f(*primals)` and returns its vector-Jacobian product function.

    Args:
        f: callable of tensors (each argument may be a nest of tensors) returning
            a tensor or a nest of tensors.
        *primals: the point at which to differentiate; floating-point tensors or
            nests of them, one per positional argument of `f`.

    Returns:
        A tuple `(outputs, vjp_fn)`: `outputs = f(*primals)` and `vjp_fn(cotangent)`,
        which takes a nest shaped like `outputs` and returns a tuple with one entry
        per primal, each shaped like that primal (`cotangentᵀ ∂f/∂primal`). Inputs
        that do not influence the output get zeros. `vjp_fn` may be called many
        times, and inside another `vjp` (higher-order derivatives).

    Example:

    ```python
    x = keras.ops.convert_to_tensor([1.0, 2.0])
    y, vjp_fn = vjp(lambda x: x**2, x)
    (g,) = vjp_fn(keras.ops.ones_like(y))  # [2.0, 4.0]
    ```
    """
    primals = tree.map_structure(_to_float_tensor, primals)
    backend = _backend()
    if backend == "jax":
        import jax

        return jax.vjp(f, *primals)
    if backend == "torch":
        return _torch_vjp(f, primals)
    import tensorflow as tf

    flat = tree.flatten(primals)
    with tf.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
        tape.watch(flat)
        outputs = f(*primals)

    def vjp_fn(cotangent):
        tree.assert_same_structure(outputs, cotangent)
        flat_out = tree.flatten(outputs)
        flat_ct = [ops.cast(c, o.dtype) for c, o in zip(tree.flatten(cotangent), flat_out)]
        grads = tape.gradient(
            flat_out,
            flat,
            output_gradients=flat_ct,
            unconnected_gradients=tf.UnconnectedGradients.ZERO,
        )
        grads = [tf.convert_to_tensor(g) for g in grads]  # IndexedSlices from gathers
        return tuple(tree.pack_sequence_as(primals, grads))

    return outputs, vjp_fn


def vmap(f, elems):
    """Maps `f` over the leading axis of the nest `elems`, vectorized (internal).

    TensorFlow: `tf.vectorized_map` (pfor), falling back to a loop for ops that
    pfor cannot batch; JAX: `jax.vmap`; PyTorch: a Python loop.
    """
    backend = _backend()
    if backend == "jax":
        import jax

        return jax.vmap(f)(elems)
    if backend == "torch":  # a loop: torch.func.vmap cannot batch autograd.grad
        n = tree.flatten(elems)[0].shape[0]
        rows = [f(tree.map_structure(lambda x, i=i: x[i], elems)) for i in range(n)]
        return tree.map_structure(lambda *r: ops.stack(r), *rows)
    import tensorflow as tf

    return tf.vectorized_map(f, elems, fallback_to_while_loop=True, warn=False)


def _torch_vjp(f, primals):
    """`vjp` on PyTorch: record `f` with autograd, pull cotangents back with `autograd.grad`.

    Primals already in a graph (an outer `vjp`) are used as they are, so
    derivatives nest; the others become fresh leaves, leaving the caller's
    tensors untouched. `create_graph=True` keeps the pull-back differentiable.
    """
    import torch

    def track(x):
        return x if x.requires_grad else x.detach().requires_grad_(True)

    primals = tree.map_structure(track, primals)
    flat = tree.flatten(primals)
    with torch.enable_grad():
        outputs = f(*primals)

    def vjp_fn(cotangent):
        tree.assert_same_structure(outputs, cotangent)
        flat_out = tree.flatten(outputs)
        flat_ct = [ops.cast(c, o.dtype) for c, o in zip(tree.flatten(cotangent), flat_out)]
        with torch.enable_grad():
            grads = torch.autograd.grad(
                flat_out, flat, flat_ct, retain_graph=True, create_graph=True, allow_unused=True
            )
        grads = [torch.zeros_like(x) if g is None else g for g, x in zip(grads, flat)]
        return tuple(tree.pack_sequence_as(primals, grads))

    return outputs, vjp_fn
