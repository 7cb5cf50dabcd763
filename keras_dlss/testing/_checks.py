"""The individual checks behind `run_layer_test` (internal).

Each `_check_*` returns None when it passes, a reason string when it does not
apply, and raises `LayerTestError` naming what differed when it fails.
"""

import dataclasses
import inspect
import os
import tempfile

import keras
import numpy as np
from keras import ops

from keras_dlss.export.artifacts import max_abs_difference, run_saved_model

# jit_compile=True is XLA on TensorFlow and JAX, but torch.compile on torch: experimental in
# Keras, and minutes of compilation per model on CPU. There the two jit_compile=True checks run
# torch's ordinary path and report themselves skipped, with this reason.
_JIT = keras.config.backend() != "torch"
_NO_JIT = (
    "jit_compile=True is not applied on torch (it means torch.compile there: experimental in "
    "Keras, minutes per model on CPU); ran the ordinary compiled path instead"
)


class LayerTestError(AssertionError):
    """A conformance check failed; `.check` names it, `.report` holds all results so far."""

    def __init__(self, check, message, report=None):
        super().__init__(f"[{check}] {message}")
        self.check = check
        self.report = report


@dataclasses.dataclass
class Case:
    layer_cls: type
    init_kwargs: dict
    args: list  # positional call args: [input_data]
    tensor_kwargs: dict  # call kwargs that are arrays -> model inputs
    static_kwargs: dict  # other call kwargs, passed as-is
    custom_objects: dict
    atol: float
    rtol: float


# ----------------------------------------------------------------------------- plumbing


def run_check(name, report, fn, *args):
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


def to_numpy_nest(x):
    return keras.tree.map_structure(lambda v: np.asarray(v) if _is_array(v) else v, x)


def split_call_kwargs(call_kwargs):
    tensors = {k: np.asarray(v) for k, v in call_kwargs.items() if _is_array(v)}
    static = {k: v for k, v in call_kwargs.items() if k not in tensors}
    return tensors, static


def call_layer(layer, case, args=None, tensor_kwargs=None, **extra):
    args = case.args if args is None else args
    kw = case.tensor_kwargs if tensor_kwargs is None else tensor_kwargs
    return layer(*args, **kw, **case.static_kwargs, **extra)


def to_numpy(outputs):
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


def verify_output_shape(expected, expected_shape):
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


def verify_symbolic_call(layer, case, expected, holder):
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


def verify_serialization(layer, model, case, expected):
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
    call_layer(clone, case)  # builds the clone
    try:
        clone.set_weights(layer.get_weights())
    except Exception as e:
        raise LayerTestError("serialization", f"rebuilt layer has different weights: {e}") from e
    _assert_close(
        "serialization", expected, to_numpy(call_layer(clone, case)), case, "from_config clone"
    )

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, custom_objects=case.custom_objects)
    inputs = _flat_model_inputs(case)
    _assert_close(
        "serialization", to_numpy(model(inputs)), to_numpy(loaded(inputs)), case, ".keras save/load"
    )
    return None


def verify_xla(model, case, expected):
    inputs = _flat_model_inputs(case)
    batch = len(inputs[0])
    eager = to_numpy(model(inputs))
    _assert_close("xla_parity", expected, eager, case, "functional model vs direct call")
    paths = [(False, "graph (tf.function)")] + ([(True, "jit_compile=True")] if _JIT else [])
    for jit_compile, what in paths:
        model.compile(jit_compile=jit_compile)
        try:
            outputs = model.predict(inputs, batch_size=batch, verbose=0)
        except Exception as e:
            raise LayerTestError(
                "xla_parity", f"{what} call failed: {type(e).__name__}: {str(e)[:1200]}"
            ) from e
        _assert_close("xla_parity", eager, outputs, case, f"{what} vs eager")
    return None if _JIT else _NO_JIT


def verify_export(model, case, expected):
    if keras.config.backend() != "tensorflow":
        return (
            f"SavedModel export needs the TensorFlow backend (backend is {keras.config.backend()})"
        )
    inputs = _flat_model_inputs(case)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "saved_model")
        model.export(path, format="tf_saved_model", verbose=False)
        served = run_saved_model(path, inputs)
    _assert_close("export", to_numpy(model(inputs)), served, case, "SavedModel serve vs Keras")
    return None


def verify_gradients(layer, case, gradient_kwargs):
    from keras_dlss.debugging import GradientCheckError, gradient_check

    if keras.backend.result_type("float64", "float64") != "float64":
        return (
            f"Keras demotes float64 to float32 on {keras.config.backend()} "
            "(keras-team/keras#23223); checked on TensorFlow"
        )
    kwargs = {"fast_mode": True, **(gradient_kwargs or {})}
    call_kwargs = {**case.tensor_kwargs, **case.static_kwargs}
    try:
        gradient_check(layer, tuple(case.args), call_kwargs=call_kwargs, **kwargs)
    except GradientCheckError as e:
        raise LayerTestError(
            "gradients", f"finite-difference gradient check failed:\n{e.report}"
        ) from e
    return None


def verify_mixed_precision(layer, case, output_dtype):
    config = layer.get_config()
    for policy_name in ("mixed_float16", "mixed_bfloat16"):
        policy = keras.DTypePolicy(policy_name)
        mp_layer = case.layer_cls.from_config({**config, "dtype": policy_name})
        outputs = call_layer(mp_layer, case)
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


def verify_masking(layer, case):
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
    base = to_numpy(call_layer(layer, case, **extra))
    moved = to_numpy(call_layer(layer, case, args=args, **extra))
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


def verify_fit(layer, case):
    clone = case.layer_cls.from_config(layer.get_config())
    model = _functional_model(clone, case)
    outputs = keras.tree.flatten(model.outputs)
    float_outputs = [o for o in outputs if "float" in keras.backend.standardize_dtype(o.dtype)]
    if not float_outputs:
        return "layer has no float outputs to train on"
    train_model = keras.Model(model.inputs, float_outputs)
    inputs = _flat_model_inputs(case)
    targets = [
        np.zeros(np.shape(o), "float32") for o in keras.tree.flatten(to_numpy(train_model(inputs)))
    ]

    def mean_square(y_true, y_pred):
        return ops.mean(ops.square(ops.cast(y_pred, "float32") - y_true))

    train_model.compile(optimizer=keras.optimizers.SGD(1e-3), loss=mean_square, jit_compile=_JIT)
    history = train_model.fit(inputs, targets, batch_size=len(inputs[0]), epochs=1, verbose=0)
    loss = history.history["loss"][-1]
    if not np.isfinite(loss):
        raise LayerTestError(
            "fit_xla",
            f"one {'jit_compile=True ' if _JIT else ''}fit step gave a non-finite loss ({loss})",
        )
    return None if _JIT else _NO_JIT
