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

import keras

from keras_dlss.testing._checks import (
    Case,
    LayerTestError,
    call_layer,
    run_check,
    split_call_kwargs,
    to_numpy,
    to_numpy_nest,
    verify_export,
    verify_fit,
    verify_gradients,
    verify_masking,
    verify_mixed_precision,
    verify_output_shape,
    verify_serialization,
    verify_symbolic_call,
    verify_xla,
)

__all__ = ["LayerTestError", "LayerTestReport", "run_layer_test"]


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
            agree (on torch, where `jit_compile=True` means `torch.compile`,
            experimental in Keras, the compiled path is `jit_compile=False` and
            the check reports itself skipped, saying why).
        check_fit: bool. One `fit` step compiles with `jit_compile=True` (not on
            torch, as above: skipped there after an ordinary step) on the mean
            square of the float outputs and gives a finite loss.
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
    tensor_kwargs, static_kwargs = split_call_kwargs(call_kwargs or {})
    case = Case(
        layer_cls,
        dict(init_kwargs or {}),
        [to_numpy_nest(input_data)],
        tensor_kwargs,
        static_kwargs,
        dict(custom_objects or {}),
        atol,
        rtol,
    )
    report = LayerTestReport(layer_cls.__name__)
    layer = case.layer_cls(**case.init_kwargs)
    expected = to_numpy(call_layer(layer, case))
    run_check("output_shape", report, verify_output_shape, expected, expected_output_shape)
    holder = {}
    run_check("symbolic_call", report, verify_symbolic_call, layer, case, expected, holder)
    model = holder["model"]

    checks = [
        (
            "serialization",
            check_serialization,
            lambda: verify_serialization(layer, model, case, expected),
        ),
        ("xla_parity", check_xla, lambda: verify_xla(model, case, expected)),
        ("export", check_export, lambda: verify_export(model, case, expected)),
        ("gradients", check_gradients, lambda: verify_gradients(layer, case, gradient_kwargs)),
        (
            "mixed_precision",
            check_mixed_precision,
            lambda: verify_mixed_precision(layer, case, mixed_precision_output_dtype),
        ),
        ("masking", check_masking, lambda: verify_masking(layer, case)),
        ("fit_xla", check_fit, lambda: verify_fit(layer, case)),
    ]
    for name, enabled, fn in checks:
        if not enabled:
            report.results[name] = "skipped: disabled by caller"
            continue
        run_check(name, report, fn)
    return report
