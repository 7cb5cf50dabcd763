"""`run_layer_test`: the conformance harness every keras-dlss layer passes.

One call checks what the developers' guide asks of a public layer: config round
trip and `.keras` save/load, eager / graph / XLA parity and an XLA-compiled fit
step, SavedModel export parity, float64 finite-difference gradients, mixed
precision dtypes, and the *effect* of masks. Users run it on their own layers:

    from keras_dlss.testing import run_layer_test
    run_layer_test(MyLayer, {"units": 4}, np.random.rand(2, 5, 3).astype("float32"))

Each failing check raises `LayerTestError` naming the check and what differed.
"""

import dataclasses
import inspect
import os
import tempfile

import keras
import numpy as np
from keras import ops

from keras_dlss.export.artifacts import max_abs_difference, run_saved_model


class LayerTestError(AssertionError):
    """A conformance check failed; `.check` names it, `.report` holds all results so far."""

    def __init__(self, check, message, report=None):
        super().__init__(f"[{check}] {message}")
        self.check = check
        self.report = report


@dataclasses.dataclass
class LayerTestReport:
    """Outcome of each conformance check: "passed", "skipped: <why>" or "failed"."""

    layer: str
    results: dict = dataclasses.field(default_factory=dict)

    def __str__(self):
        width = max([len(k) for k in self.results] + [5])
        rows = [f"run_layer_test({self.layer})"]
        rows += [f"  {name:<{width}}  {status}" for name, status in self.results.items()]
        return "\n".join(rows)


@dataclasses.dataclass
class _Case:
    layer_cls: type
    init_kwargs: dict
    args: list  # positional call args: [input_data]
    tensor_kwargs: dict  # call kwargs that are arrays -> model inputs
    static_kwargs: dict  # other call kwargs, passed as-is
    custom_objects: dict
    atol: float
    rtol: float


def run_layer_test(
    layer_cls,
    init_kwargs=None,
    input_data=None,
    *,
    call_kwargs=None,
    expected_output_shape=None,
    check_serialization=True,
    check_xla=True,
    check_fit=True,
    check_export=True,
    check_gradients=True,
    check_mixed_precision=True,
    check_masking=True,
    gradient_kwargs=None,
    custom_objects=None,
    mixed_precision_output_dtype="compute",
    atol=1e-5,
    rtol=1e-5,
):
    """Runs the keras-dlss conformance checks on a layer class.

    Args:
        layer_cls: A `keras.layers.Layer` subclass.
        init_kwargs: dict. Constructor arguments. Defaults to `{}`.
        input_data: The first positional call argument: a NumPy array, or a list
            of arrays for layers that take a list of inputs.
        call_kwargs: dict. Extra call arguments. Array values (e.g. `memory=`,
            `mask=`) become extra model inputs; other values pass through.
        expected_output_shape: Optional shape (or nest of shapes) of the eager
            output, batch dimension included.
        check_serialization: bool. `get_config` → `from_config` and `.keras`
            save/load give identical outputs; every constructor argument is in
            the config.
        check_xla: bool. Eager, `tf.function` and `jit_compile=True` predictions
            agree.
        check_fit: bool. One `fit` step compiles with `jit_compile=True` on the
            mean square of the float outputs and gives a finite loss.
        check_export: bool. A model holding the layer exports to SavedModel and
            serves equal outputs (TensorFlow backend only).
        check_gradients: bool. Gradients w.r.t. float inputs and weights pass
            `keras_dlss.debugging.gradient_check` in float64 (fast mode).
        check_mixed_precision: bool. Under `mixed_float16` and `mixed_bfloat16`
            the variables stay float32 and float outputs have the expected dtype.
        check_masking: bool. When the layer `supports_masking`, changing masked
            positions of the first input does not change unmasked outputs.
        gradient_kwargs: dict. Extra arguments for `gradient_check`.
        custom_objects: dict. Passed to `keras.saving.load_model`.
        mixed_precision_output_dtype: "compute" (the policy's compute dtype) or
            a dtype name the layer documents for float outputs (e.g. "float32").
        atol: float. Absolute tolerance of output comparisons.
        rtol: float. Relative tolerance of output comparisons.

    Returns:
        A `LayerTestReport`; raises `LayerTestError` on the first failing check.

    Example:

    ```python
    import numpy as np
    import keras
    from keras_dlss.testing import run_layer_test

    report = run_layer_test(
        keras.layers.Dense, {"units": 3}, np.random.rand(2, 4).astype("float32")
    )
    print(report)
    ```
    """
    if not (inspect.isclass(layer_cls) and issubclass(layer_cls, keras.layers.Layer)):
        raise ValueError(
            f"Argument `layer_cls` must be a keras.layers.Layer subclass. Received: layer_cls={layer_cls!r}"
        )
    if input_data is None:
        raise ValueError("Argument `input_data` is required. Received: input_data=None")
    tensor_kwargs, static_kwargs = _split_call_kwargs(call_kwargs or {})
    case = _Case(
        layer_cls,
        dict(init_kwargs or {}),
        [_to_numpy_nest(input_data)],
        tensor_kwargs,
        static_kwargs,
        dict(custom_objects or {}),
        atol,
        rtol,
    )
    report = LayerTestReport(layer_cls.__name__)
    layer = case.layer_cls(**case.init_kwargs)
    expected = _run(_call(layer, case))
    _check("output_shape", report, _check_output_shape, expected, expected_output_shape)
    holder = {}
    _check("symbolic_call", report, _check_symbolic_call, layer, case, expected, holder)
    model = holder["model"]

    checks = [
        (
            "serialization",
            check_serialization,
            lambda: _check_serialization(layer, model, case, expected),
        ),
        ("xla_parity", check_xla, lambda: _check_xla(model, case, expected)),
        ("export", check_export, lambda: _check_export(model, case, expected)),
        ("gradients", check_gradients, lambda: _check_gradients(layer, case, gradient_kwargs)),
        (
            "mixed_precision",
            check_mixed_precision,
            lambda: _check_mixed_precision(layer, case, mixed_precision_output_dtype),
        ),
        ("masking", check_masking, lambda: _check_masking(layer, case)),
        ("fit_xla", check_fit, lambda: _check_fit(layer, case)),
    ]
    for name, enabled, fn in checks:
        if not enabled:
            report.results[name] = "skipped: disabled by caller"
            continue
        _check(name, report, fn)
    return report


# ----------------------------------------------------------------------------- plumbing


def _check(name, report, fn, *args):
    try:
        skip_reason = fn(*args)
    except LayerTestError as e:
        report.results[name] = "failed"
        e.report = report
        raise
    except Exception as e:  # a crash inside a check is that check failing
        report.results[name] = "failed"
        message = str(e)
        if len(message) > 1200:  # TF error messages carry whole stack traces
            message = message[:1200] + " ..."
        raise LayerTestError(name, f"{type(e).__name__}: {message}", report) from e
    report.results[name] = f"skipped: {skip_reason}" if skip_reason else "passed"


def _is_array(v):
    return isinstance(v, np.ndarray) or (hasattr(v, "shape") and hasattr(v, "dtype"))


def _to_numpy_nest(x):
    return keras.tree.map_structure(lambda v: np.asarray(v) if _is_array(v) else v, x)


def _split_call_kwargs(call_kwargs):
    tensors = {k: np.asarray(v) for k, v in call_kwargs.items() if _is_array(v)}
    static = {k: v for k, v in call_kwargs.items() if k not in tensors}
    return tensors, static


def _call(layer, case, args=None, tensor_kwargs=None, **extra):
    args = case.args if args is None else args
    kw = case.tensor_kwargs if tensor_kwargs is None else tensor_kwargs
    return layer(*args, **kw, **case.static_kwargs, **extra)


def _run(outputs):
    return keras.tree.map_structure(lambda t: np.asarray(ops.convert_to_numpy(t)), outputs)


def _flat_model_inputs(case):
    return keras.tree.flatten(case.args) + list(case.tensor_kwargs.values())


def _functional_model(layer, case):
    """A Model whose inputs are every array the layer is called with."""

    def spec(a, name):
        return keras.Input(shape=a.shape[1:], dtype=str(a.dtype), name=name)

    counter = iter(range(10_000))
    sym_args = keras.tree.map_structure(lambda a: spec(a, f"input_{next(counter)}"), case.args)
    sym_kwargs = {k: spec(v, k) for k, v in case.tensor_kwargs.items()}
    outputs = layer(*sym_args, **sym_kwargs, **case.static_kwargs)
    inputs = keras.tree.flatten(sym_args) + list(sym_kwargs.values())
    return keras.Model(inputs, outputs, name=f"{case.layer_cls.__name__}_harness")


def _assert_close(check, expected, actual, case, what):
    e_flat, a_flat = keras.tree.flatten(expected), keras.tree.flatten(actual)
    if len(e_flat) != len(a_flat):
        raise LayerTestError(check, f"{what}: {len(a_flat)} outputs, expected {len(e_flat)}")
    for i, (e, a) in enumerate(zip(e_flat, a_flat)):
        e, a = np.asarray(e), np.asarray(a)
        if e.shape != a.shape:
            raise LayerTestError(
                check, f"{what}: output {i} has shape {a.shape}, expected {e.shape}"
            )
        if not np.allclose(
            e.astype(np.float64), a.astype(np.float64), atol=case.atol, rtol=case.rtol
        ):
            diff = max_abs_difference(e, a)
            raise LayerTestError(
                check, f"{what}: output {i} differs (max abs difference {diff:.3g})"
            )


def _check_output_shape(expected, expected_shape):
    if expected_shape is None:
        return "no expected_output_shape given"
    actual = [tuple(a.shape) for a in keras.tree.flatten(expected)]
    if all(d is None or isinstance(d, (int, np.integer)) for d in expected_shape):
        expected_shape = [expected_shape]
    want = [tuple(s) for s in expected_shape]
    if actual != want:
        raise LayerTestError("output_shape", f"eager output shape {actual}, expected {want}")
    return None


# ----------------------------------------------------------------------------- checks


def _check_symbolic_call(layer, case, expected, holder):
    """Calling on `keras.Input`s traces the layer; shapes must match the eager output."""
    model = _functional_model(layer, case)
    flat_s = [tuple(t.shape[1:]) for t in keras.tree.flatten(model.output)]
    flat_e = [tuple(a.shape[1:]) for a in keras.tree.flatten(expected)]
    if len(flat_s) != len(flat_e) or any(
        len(a) != len(b) or any(x is not None and x != y for x, y in zip(a, b))
        for a, b in zip(flat_s, flat_e)
    ):
        raise LayerTestError(
            "symbolic_call", f"symbolic output shapes {flat_s} do not match eager shapes {flat_e}"
        )
    holder["model"] = model
    return None


def _check_serialization(layer, model, case, expected):
    config = layer.get_config()
    missing = [name for name in case.init_kwargs if name not in config]
    if missing:
        raise LayerTestError(
            "serialization", f"constructor argument(s) {missing} missing from get_config()"
        )
    try:
        clone = case.layer_cls.from_config(config)
    except Exception as e:
        raise LayerTestError("serialization", f"from_config(get_config()) failed: {e}") from e
    if clone.get_config() != config:
        raise LayerTestError(
            "serialization", "from_config(get_config()).get_config() differs from get_config()"
        )
    _call(clone, case)  # builds the clone
    try:
        clone.set_weights(layer.get_weights())
    except Exception as e:
        raise LayerTestError("serialization", f"rebuilt layer has different weights: {e}") from e
    _assert_close("serialization", expected, _run(_call(clone, case)), case, "from_config clone")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, custom_objects=case.custom_objects)
    inputs = _flat_model_inputs(case)
    _assert_close(
        "serialization", _run(model(inputs)), _run(loaded(inputs)), case, ".keras save/load"
    )
    return None


def _check_xla(model, case, expected):
    inputs = _flat_model_inputs(case)
    batch = len(inputs[0])
    eager = _run(model(inputs))
    _assert_close("xla_parity", expected, eager, case, "functional model vs direct call")
    for jit_compile, what in ((False, "graph (tf.function)"), (True, "jit_compile=True")):
        model.compile(jit_compile=jit_compile)
        try:
            outputs = model.predict(inputs, batch_size=batch, verbose=0)
        except Exception as e:
            raise LayerTestError(
                "xla_parity", f"{what} call failed: {type(e).__name__}: {str(e)[:1200]}"
            ) from e
        _assert_close("xla_parity", eager, outputs, case, f"{what} vs eager")
    return None


def _check_export(model, case, expected):
    if keras.config.backend() != "tensorflow":
        return (
            f"SavedModel export needs the TensorFlow backend (backend is {keras.config.backend()})"
        )
    inputs = _flat_model_inputs(case)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "saved_model")
        model.export(path, format="tf_saved_model", verbose=False)
        served = run_saved_model(path, inputs)
    _assert_close("export", _run(model(inputs)), served, case, "SavedModel serve vs Keras")
    return None


def _check_gradients(layer, case, gradient_kwargs):
    from keras_dlss.debugging import GradientCheckError, gradient_check

    kwargs = {"fast_mode": True, **(gradient_kwargs or {})}
    call_kwargs = {**case.tensor_kwargs, **case.static_kwargs}
    try:
        gradient_check(layer, tuple(case.args), call_kwargs=call_kwargs, **kwargs)
    except GradientCheckError as e:
        raise LayerTestError(
            "gradients", f"finite-difference gradient check failed:\n{e.report}"
        ) from e
    return None


def _check_mixed_precision(layer, case, output_dtype):
    config = layer.get_config()
    for policy_name in ("mixed_float16", "mixed_bfloat16"):
        policy = keras.DTypePolicy(policy_name)
        mp_layer = case.layer_cls.from_config({**config, "dtype": policy_name})
        outputs = _call(mp_layer, case)
        bad_vars = [
            v.path for v in mp_layer.weights if v.dtype != "float32" and "float" in str(v.dtype)
        ]
        if bad_vars:
            raise LayerTestError(
                "mixed_precision", f"{policy_name}: variables not float32: {bad_vars}"
            )
        want = policy.compute_dtype if output_dtype == "compute" else output_dtype
        for i, out in enumerate(keras.tree.flatten(outputs)):
            dtype = keras.backend.standardize_dtype(out.dtype)
            if "float" not in dtype:
                continue
            if dtype != want:
                raise LayerTestError(
                    "mixed_precision",
                    f"{policy_name}: output {i} has dtype {dtype}, expected {want}",
                )
            if not np.all(np.isfinite(np.asarray(ops.convert_to_numpy(ops.cast(out, "float32"))))):
                raise LayerTestError("mixed_precision", f"{policy_name}: output {i} is not finite")
    return None


def _first_array(case):
    return keras.tree.flatten(case.args)[0]


def _check_masking(layer, case):
    if not layer.supports_masking:
        return "layer does not support masking"
    x = _first_array(case)
    # Float features are [B, T, ...features]; integer token ids are [B, T].
    min_rank = 3 if np.issubdtype(x.dtype, np.floating) else 2
    if x.ndim < min_rank or x.shape[1] < 2:
        return "first input has no time axis of length >= 2"
    batch, steps = x.shape[:2]
    lengths = np.maximum(steps - np.arange(batch) % steps, 1)
    lengths[-1] = max(1, steps // 2)
    mask = np.arange(steps)[None, :] < lengths[:, None]
    perturbed = x.copy()
    if np.issubdtype(x.dtype, np.floating):
        rng = np.random.default_rng(0)
        noise = rng.normal(size=x.shape).astype(x.dtype)
        perturbed[~mask] += 3.0 * noise[~mask]
    else:  # token ids: move masked ids to another valid id
        perturbed[~mask] = np.where(x[~mask] == 1, 2, 1)
    args = _replace_first(case.args, perturbed)
    # A layer whose call takes no mask must keep positions independent on its own.
    extra = {"mask": _mask_like(case.args, mask)} if _accepts_mask(layer) else {}
    base = _run(_call(layer, case, **extra))
    moved = _run(_call(layer, case, args=args, **extra))
    for i, (b, m) in enumerate(zip(keras.tree.flatten(base), keras.tree.flatten(moved))):
        if b.ndim >= 2 and b.shape[:2] == (batch, steps):
            b, m = b[mask], m[mask]
        if not np.allclose(b, m, atol=case.atol, rtol=case.rtol):
            raise LayerTestError(
                "masking",
                f"output {i}: changing masked positions of the input changed unmasked outputs "
                f"(max abs difference {max_abs_difference(b, m):.3g})",
            )
    return None


def _accepts_mask(layer):
    return "mask" in inspect.signature(layer.call).parameters


def _replace_first(args, value):
    flat = keras.tree.flatten(args)
    return keras.tree.pack_sequence_as(args, [value, *flat[1:]])


def _mask_like(args, mask):
    first = args[0]
    if isinstance(first, (list, tuple)):
        return [mask] + [None] * (len(first) - 1)
    return mask


def _check_fit(layer, case):
    clone = case.layer_cls.from_config(layer.get_config())
    model = _functional_model(clone, case)
    outputs = keras.tree.flatten(model.outputs)
    float_outputs = [o for o in outputs if "float" in keras.backend.standardize_dtype(o.dtype)]
    if not float_outputs:
        return "layer has no float outputs to train on"
    train_model = keras.Model(model.inputs, float_outputs)
    inputs = _flat_model_inputs(case)
    targets = [
        np.zeros(np.shape(o), "float32") for o in keras.tree.flatten(_run(train_model(inputs)))
    ]

    def mean_square(y_true, y_pred):
        return ops.mean(ops.square(ops.cast(y_pred, "float32") - y_true))

    train_model.compile(optimizer=keras.optimizers.SGD(1e-3), loss=mean_square, jit_compile=True)
    history = train_model.fit(inputs, targets, batch_size=len(inputs[0]), epochs=1, verbose=0)
    loss = history.history["loss"][-1]
    if not np.isfinite(loss):
        raise LayerTestError(
            "fit_xla", f"one jit_compile=True fit step gave a non-finite loss ({loss})"
        )
    return None
