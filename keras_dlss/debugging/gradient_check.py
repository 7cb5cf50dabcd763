"""Finite-difference gradient checking in float64.

"Debug your implementation of fprop/bprop with a finite-difference
approximation" (LeCun, Bottou, Orr and Müller, "Efficient BackProp", 1998;
Bengio, "Practical recommendations for gradient-based training of deep
architectures", 2012, §3.1). The backend's reverse-mode derivatives of a layer,
model or function are compared with central differences
`(f(θ + ε e) - f(θ - ε e)) / 2ε` on a float64 copy, with respect to every
floating input and every trainable variable, as `torch.autograd.gradcheck`
does; `fast_mode` compares random projections `vᵀJu` instead of full Jacobians
(Rotation-free gradcheck, PyTorch 1.10), and `order=2` also checks the
derivatives of the gradient (`gradgradcheck`).
"""

import inspect

import keras
import numpy as np
from keras import ops, tree

from keras_dlss._validation import check_one_of, check_range
from keras_dlss.autodiff.core import vjp
from keras_dlss.debugging import _finite_differences as fd
from keras_dlss.debugging._float64 import cast_floats, float64_copy, is_float64, is_floating
from keras_dlss.debugging.gradient_report import (
    GradientCheckError,
    GradientCheckReport,
    TensorCheck,
    compare,
    wrong_shape,
)


def gradient_check(
    fn,
    inputs,
    *,
    variables=None,
    call_kwargs=None,
    eps=1e-6,
    atol=1e-5,
    rtol=1e-3,
    fast_mode=False,
    order=1,
    seed=0,
    skip_kinks=False,
    raise_exception=True,
):
    """Checks the backend's gradients of `fn` against finite differences in float64.

    Layers and models are copied to float64 (`from_config` with every floating
    dtype policy set to `"float64"`, then the original weights); inputs are cast to
    float64. Derivatives are taken with respect to every floating input and every
    trainable variable (or the variables named in `variables`); integer inputs
    (token ids) are passed through unchanged. Layers are called with
    `training=False` unless `call_kwargs` says otherwise; randomness is frozen
    during the check (the seed state is the same for every evaluation), and a
    function whose two evaluations at the same point differ raises `ValueError`.

    Hand-written gradients (`keras.ops.custom_gradient`) are checked like any
    other; a gradient whose shape is not its tensor's fails (TensorFlow accepts
    it, and it would broadcast). A backward that runs only eagerly (NumPy on the
    upstream gradient) cannot be vectorized or compiled: the check falls back to
    loops, once per checked function. Runs on every backend; JAX needs
    `JAX_ENABLE_X64=1`.

    Non-differentiable points (ReLU at 0, max-pooling ties) give false failures
    when a perturbation crosses them. With `skip_kinks=True` an entry is skipped
    (and counted in `skipped`) when its forward and backward one-sided
    differences disagree, i.e. a kink lies within `eps`.

    Args:
        fn: a Keras `Layer`, `Model`, or a callable of tensors returning a tensor
            or a nest of tensors. Only floating outputs are checked.
        inputs: one tensor, or a tuple of positional arguments. A list is the
            positional arguments of a plain callable (as in
            `torch.autograd.gradcheck`), but ONE argument of a `Layer` or `Model`
            (Keras layers take a list of tensors, e.g. `Concatenate`); to pass one
            list to a callable, wrap it: `([a, b],)`. Nests allowed.
        variables: optional list of trainable variables (or their `path`/`name`
            strings) to check instead of all of `fn.trainable_variables`. For a
            callable `fn`, the float64 Keras variables it reads. Defaults to all.
        call_kwargs: dict passed to every call, never differentiated (`mask`,
            `training`, ...). Floating tensors in it are cast to float64.
        eps: float > 0. Finite-difference step. Defaults to `1e-6`.
        atol: float >= 0. Absolute tolerance. Defaults to `1e-5`.
        rtol: float >= 0. Relative tolerance: an entry passes when
            `|analytical - numerical| <= atol + rtol * |numerical|`. Defaults to `1e-3`.
        fast_mode: bool. Compare one random projection `vᵀJu` per tensor (two
            forward passes per tensor) instead of full Jacobians (two forward
            passes per element). Defaults to `False`.
        order: 1 or 2. With 2, also check the derivatives of the gradient
            `∇⟨v, f⟩` (second derivatives) by differencing gradients. Defaults to `1`.
        seed: int. Seed of the random projections. Defaults to `0`.
        skip_kinks: bool. Skip entries at non-differentiable points. Defaults to `False`.
        raise_exception: bool. Raise `GradientCheckError` on failure (else only
            return the report). Defaults to `True`.

    Returns:
        A `GradientCheckReport` (printable table of per-tensor max absolute and
        relative errors, worst element and verdict).

    Raises:
        GradientCheckError: a gradient is wrong (when `raise_exception`); the error
            names the tensor and carries `.report`.
        ValueError: bad arguments, nothing to differentiate (integer inputs only
            and no variables), no floating output, non-finite values, a
            stochastic `fn`, or JAX without float64.

    Example:

    ```python
    layer = keras.layers.Dense(4, activation="tanh")
    report = gradient_check(layer, np.random.rand(2, 3), fast_mode=True)
    print(report)
    ```
    """
    check_range("eps", eps, 0, low_inclusive=False)
    check_range("atol", atol, 0)
    check_range("rtol", rtol, 0)
    check_one_of("order", order, (1, 2))
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"Argument `seed` must be an integer. Received: seed={seed!r}")
    if not callable(fn):
        raise ValueError(f"Argument `fn` must be a Layer, Model or callable. Received: fn={fn!r}")
    _check_float64_available()
    args = _positional_arguments(fn, inputs)
    call_kwargs = dict(call_kwargs or {})
    leaves, names, kinds, f = _build_problem(fn, args, call_kwargs, variables)
    rng = np.random.default_rng(int(seed))
    results = _check_order(f, leaves, names, kinds, 1, eps, atol, rtol, fast_mode, rng, skip_kinks)
    if order == 2:
        f2 = _gradient_function(f, leaves, rng)
        results += _check_order(
            f2, leaves, names, kinds, 2, eps, atol, rtol, fast_mode, rng, skip_kinks
        )
    report = GradientCheckReport(results, bool(fast_mode), float(eps), float(atol), float(rtol))
    if raise_exception and not report.passed:
        raise GradientCheckError(report)
    return report


def _positional_arguments(fn, inputs):
    """`inputs` as the tuple of positional arguments of `fn` (see `gradient_check`'s Args)."""
    if isinstance(inputs, tuple):
        return inputs
    if isinstance(inputs, list) and not isinstance(fn, keras.Layer):
        return tuple(inputs)
    return (inputs,)


def _check_float64_available():
    """JAX truncates float64 to float32 unless x64 is enabled: differences would be noise."""
    if keras.config.backend() != "jax":
        return
    import jax

    if not jax.config.jax_enable_x64:
        raise ValueError(
            "gradient_check computes in float64, which JAX truncates to float32 by default. "
            "Set the environment variable JAX_ENABLE_X64=1 (or call "
            "`jax.config.update('jax_enable_x64', True)` at start-up). "
            "Received: jax_enable_x64=False"
        )


def _build_problem(fn, args, call_kwargs, variables):
    """Returns (leaves, names, kinds, f) with `f(leaves) -> list of float64 outputs`."""
    _check_inputs(args)
    args64 = cast_floats(
        tuple(ops.convert_to_tensor(a) if _is_array(a) else a for a in tree.flatten(args))
    )
    args64 = tree.pack_sequence_as(args, list(args64))
    kwargs64 = cast_floats(call_kwargs)
    if isinstance(fn, keras.Layer):
        call, variables_to_check, var_names = _layer_call(
            fn, args, args64, call_kwargs, kwargs64, variables
        )
    else:
        call, variables_to_check, var_names = fn, _callable_variables(variables), None
    flat_args = tree.flatten(args64)
    float_pos = [k for k, a in enumerate(flat_args) if is_floating(a)]
    input_names = _input_names(args)
    names = [input_names[k] for k in float_pos]
    names += var_names or [v.path for v in variables_to_check]
    kinds = ["input"] * len(float_pos) + ["variable"] * len(variables_to_check)
    leaves = [flat_args[k] for k in float_pos]
    leaves += [ops.convert_to_tensor(v.value) for v in variables_to_check]
    if not leaves:
        raise ValueError(
            "gradient_check found nothing to differentiate: `inputs` holds no floating-point "
            "tensor and `fn` has no trainable variables. Received: input dtypes "
            f"{[keras.backend.standardize_dtype(a.dtype) for a in flat_args if hasattr(a, 'dtype')]}"
        )
    n_in = len(float_pos)

    def f(values):
        full = list(flat_args)
        for k, value in zip(float_pos, values[:n_in]):
            full[k] = value
        mapping = list(zip(variables_to_check, values[n_in:]))
        with keras.StatelessScope(state_mapping=mapping):
            out = call(*tree.pack_sequence_as(args64, full), **kwargs64)
        return _float_outputs(out)

    _check_deterministic(f, leaves)
    return leaves, names, kinds, f


def _is_array(x):
    return hasattr(x, "shape") and hasattr(x, "dtype")


def _check_inputs(args):
    for name, a in zip(_input_names(args), tree.flatten(args)):
        if not _is_array(a):
            continue
        if len(a.shape) and a.shape[0] == 0:
            raise ValueError(
                f"Argument `{name}` must have a non-empty batch. Received: {name}.shape={tuple(a.shape)}"
            )
        if is_floating(a) and not np.all(np.isfinite(ops.convert_to_numpy(a))):
            raise ValueError(
                f"Argument `{name}` must be finite. Received: {name} containing NaN or inf"
            )


def _input_names(args):
    names = []

    def walk(x, prefix):
        if isinstance(x, (list, tuple)):
            for k, item in enumerate(x):
                walk(item, f"{prefix}[{k}]")
        elif isinstance(x, dict):
            for k in sorted(x):
                walk(x[k], f"{prefix}[{k!r}]")
        elif x is not None:
            names.append(prefix)

    for k, a in enumerate(args):
        walk(a, f"inputs[{k}]" if len(args) > 1 or isinstance(a, (list, tuple, dict)) else "inputs")
    return names


def _layer_call(layer, args, args64, call_kwargs, kwargs64, variables):
    if not layer.built:
        layer(*args, **call_kwargs)
    accepts_training = "training" in inspect.signature(layer.call).parameters
    if accepts_training:
        kwargs64.setdefault("training", False)
    # Already float64 everywhere: use the layer itself (the StatelessScope keeps it intact).
    copy = layer if is_float64(layer) else float64_copy(layer, args64, kwargs64)
    originals = layer.trainable_variables
    if variables is None:
        selected = list(range(len(originals)))
    else:
        selected = [_variable_position(v, originals) for v in variables]
    by_id = {id(v): k for k, v in enumerate(layer.weights)}
    copies = [copy.weights[by_id[id(originals[k])]] for k in selected]
    return copy, copies, [originals[k].path for k in selected]


def _variable_position(v, originals):
    for k, o in enumerate(originals):
        if o is v or (isinstance(v, str) and v in (o.path, o.name)):
            return k
    raise ValueError(
        "Argument `variables` must hold trainable variables of `fn` (or their paths). "
        f"Received: {getattr(v, 'path', v)!r}; trainable variables: {[o.path for o in originals]}"
    )


def _callable_variables(variables):
    variables = list(variables or [])
    for v in variables:
        if not isinstance(v, keras.Variable):
            raise ValueError(
                "Argument `variables` must hold Keras variables when `fn` is a plain callable. "
                f"Received: {v!r}"
            )
        if keras.backend.standardize_dtype(v.dtype) != "float64":
            raise ValueError(
                "Argument `variables` must hold float64 variables when `fn` is a plain callable "
                "(finite differences need float64; layers and models are copied automatically). "
                f"Received: {v.path} with dtype {v.dtype}"
            )
    return variables


def _float_outputs(out):
    flat = [o for o in tree.flatten(out) if _is_array(o)]
    demoted = [keras.backend.standardize_dtype(o.dtype) for o in flat if is_floating(o)]
    if any(d != "float64" for d in demoted):
        # Finite differences of float32 values are noise: fail loudly, never report it.
        raise ValueError(
            "gradient_check ran `fn` in float64 but it returned "
            f"{sorted(set(demoted) - {'float64'})} outputs: an operation inside demoted "
            "float64. Keras 3.15 does this on the JAX and PyTorch backends in every op that "
            "takes its dtype from `keras.backend.result_type` (e.g. `ops.tanh`; "
            "keras-team/keras#23223); check on the TensorFlow backend, or cast inside `fn`. "
            f"Received: output dtypes {demoted}"
        )
    floats = [ops.cast(o, "float64") for o in flat if is_floating(o)]
    if not floats:
        dtypes = [keras.backend.standardize_dtype(o.dtype) for o in flat]
        raise ValueError(
            "gradient_check needs `fn` to return floating-point outputs. "
            f"Received: output dtypes {dtypes}"
        )
    return floats


def _check_deterministic(f, leaves):
    first = [ops.convert_to_numpy(o) for o in f(leaves)]
    second = [ops.convert_to_numpy(o) for o in f(leaves)]
    for a, b in zip(first, second):
        if not np.all(np.isfinite(a)):
            raise ValueError(
                "gradient_check needs finite outputs at the checked point. "
                "Received: `fn` returned NaN or inf"
            )
        if a.shape != b.shape or np.max(np.abs(a - b), initial=0.0) > 1e-12 * (
            1 + np.max(np.abs(a))
        ):
            raise ValueError(
                "gradient_check needs a deterministic `fn`, but two evaluations at the same point "
                "differ. Stochastic layers (Dropout, noise) must run with training=False "
                "(the default for layers), or draw randomness from a Keras SeedGenerator."
            )


def _gradient_function(f, leaves, rng):
    """`leaves -> ∇⟨v, f(leaves)⟩` for a fixed random v: checking it checks second derivatives."""
    vs = [ops.convert_to_tensor(rng.standard_normal(tuple(o.shape)), "float64") for o in f(leaves)]

    def f2(values):
        def scalar(*ls):
            return sum(ops.sum(o * v) for o, v in zip(f(list(ls)), vs))

        out, vjp_fn = vjp(scalar, *values)
        return list(vjp_fn(ops.ones_like(out)))

    return f2


def _check_order(f, leaves, names, kinds, order, eps, atol, rtol, fast_mode, rng, skip_kinks):
    results = [
        TensorCheck(name, kind, order, tuple(leaf.shape))
        for name, kind, leaf in zip(names, kinds, leaves)
    ]
    fallbacks = fd.Fallbacks()  # shared by every tensor of this order: f is the same
    if not fast_mode:
        base = ops.convert_to_numpy(fd.flat_outputs(f(leaves)))
        for i, result in enumerate(results):
            _full_check(f, leaves, i, base, result, eps, atol, rtol, skip_kinks, fallbacks)
        return results
    projections, base = fd.fast_projections(f, leaves, eps, rng)
    for i, (result, (a, plus, minus, grad_shape)) in enumerate(zip(results, projections)):
        if grad_shape != result.shape:
            wrong_shape(result, grad_shape)
            continue
        skip = fd.kinks(plus, minus, base, eps, atol, rtol) if skip_kinks else None
        compare(result, a, (plus - minus) / (2 * eps), atol, rtol, skip)
        if not result.passed and int(np.prod(leaves[i].shape)) <= _LOCATE_LIMIT:
            _locate(f, leaves, i, result, eps, atol, rtol, skip_kinks, fallbacks)
    return results


_MAX_JACOBIAN_ENTRIES = 1 << 28  # 2 GiB of float64 per tensor

# In fast mode a failing tensor up to this size is re-checked in full to find the worst element.
_LOCATE_LIMIT = 4096


def _locate(f, leaves, i, result, eps, atol, rtol, skip_kinks, fallbacks):
    full = TensorCheck(result.name, result.kind, result.order, result.shape)
    base = ops.convert_to_numpy(fd.flat_outputs(f(leaves)))
    _full_check(f, leaves, i, base, full, eps, atol, rtol, skip_kinks, fallbacks)
    result.worst_index, result.worst_output = full.worst_index, full.worst_output


def _full_check(f, leaves, i, base, result, eps, atol, rtol, skip_kinks, fallbacks):
    n = int(np.prod(leaves[i].shape))
    if n == 0:
        return
    if n * base.shape[0] > _MAX_JACOBIAN_ENTRIES:
        raise ValueError(
            f"gradient_check(fast_mode=False) would hold a {base.shape[0]} x {n} Jacobian for "
            f"`{result.name}` ({8 * n * base.shape[0] / 2**30:.1f} GiB). Use fast_mode=True, or "
            "check fewer `variables` on a smaller batch."
        )
    try:
        jac = fd.analytical_jacobian(f, leaves, i, fallbacks)
    except fd.WrongGradientShape as e:
        wrong_shape(result, e.shape)
        return
    chunks = fd.numerical_chunks(f, leaves, i, eps, base.shape[0], fallbacks)
    for start, plus, minus in chunks:
        stop = min(start + plus.shape[0], n)
        plus, minus = plus[: stop - start], minus[: stop - start]
        skip = fd.kinks(plus, minus, base[None], eps, atol, rtol) if skip_kinks else None
        compare(
            result,
            jac[:, start:stop].T,
            (plus - minus) / (2 * eps),
            atol,
            rtol,
            skip,
            index_offset=start,
            shape=leaves[i].shape,
        )
