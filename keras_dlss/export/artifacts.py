"""Export Keras models to SavedModel and ONNX and measure parity (TensorFlow-specific).

`model.export` does the exporting; this module adds what users ask next: load the
artifact back, run it on a sample batch and report the largest absolute
difference from the Keras model, and, where a format cannot work, why.

Exports per backend (Keras 3.15; the README's backend matrix is measured by
`tests/test_backend_matrix.py`):

- TensorFlow: SavedModel and ONNX (tf2onnx) natively.
- JAX: SavedModel through jax2tf, which gives every unknown dimension a
  *symbolic* size. Keras names each input's unknown dimensions independently,
  so a model whose inputs share an axis (the tagger's `words` [B, T] and
  `chars` [B, T, L], concatenated per token) fails to trace: jax2tf cannot
  prove that the two `T`s are equal. `polymorphic_shapes` ties those
  dimensions to one symbol. ONNX from JAX goes through `jax2onnx`, which is
  not a dependency here (it pulls flax and orbax).
- torch: SavedModel needs `torch_xla` (Keras lowers through StableHLO), not a
  dependency here; ONNX uses `torch.onnx` with the shapes of the sample batch.
"""

import importlib.util
import os
import re

import keras
import numpy as np

FORMATS = ("tf_saved_model", "onnx")


def _flat_inputs(inputs):
    if isinstance(inputs, dict):
        return [np.asarray(v) for v in inputs.values()]
    if isinstance(inputs, (list, tuple)):
        return [np.asarray(v) for v in inputs]
    return [np.asarray(inputs)]


def _flat_outputs(outputs):
    return [np.asarray(keras.ops.convert_to_numpy(o)) for o in keras.tree.flatten(outputs)]


def max_abs_difference(expected, actual):
    """Largest |expected - actual| over matching leaves (inf on a shape mismatch)."""
    expected, actual = _flat_outputs(expected), _flat_outputs(actual)
    if len(expected) != len(actual):
        return float("inf")
    worst = 0.0
    for e, a in zip(expected, actual):
        if e.shape != a.shape:
            return float("inf")
        if e.size:
            worst = max(worst, float(np.max(np.abs(e.astype(np.float64) - a.astype(np.float64)))))
    return worst


def export_model(model, path, format="tf_saved_model", verbose=False, sample_inputs=None):
    """Exports `model` to `path` in `format` ("tf_saved_model" or "onnx"); returns `path`.

    `sample_inputs` (a batch shaped like the model's inputs) lets the JAX
    backend tie unknown dimensions that inputs share (see `polymorphic_shapes`).
    """
    if format not in FORMATS:
        raise ValueError(
            f"Argument `format` must be one of {list(FORMATS)}. Received: format={format!r}"
        )
    reason = unavailable_reason(format)
    if reason:
        raise NotImplementedError(reason)
    kwargs = {}
    if format == "onnx":
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
    elif keras.config.backend() == "jax" and sample_inputs is not None:
        # jax2tf's `polymorphic_shapes` must mirror the signature Keras traces with,
        # which only Keras's own (private) helper computes for every kind of model.
        from keras.src.export.export_utils import get_input_signature

        signature = get_input_signature(model)
        kwargs["input_signature"] = signature
        kwargs["jax2tf_kwargs"] = {
            "polymorphic_shapes": polymorphic_shapes(signature, sample_inputs)
        }
    model.export(path, format=format, verbose=verbose, **kwargs)
    return path


def unavailable_reason(format, backend=None):
    """Why `format` cannot be exported on `backend` (default: the current one), or None."""
    backend = backend or keras.config.backend()
    needs = {
        ("tf_saved_model", "torch"): (
            "torch_xla",
            "SavedModel from torch lowers through StableHLO",
        ),
        ("onnx", "tensorflow"): ("tf2onnx", "the `onnx` extra"),
        ("onnx", "jax"): ("jax2onnx", "Keras converts JAX to ONNX with jax2onnx"),
    }
    module, why = needs.get((format, backend), (None, None))
    missing = [m for m in (module, "onnxruntime" if format == "onnx" else None) if m]
    missing = [m for m in missing if importlib.util.find_spec(m) is None]
    if missing:
        return f"{format} on the {backend} backend needs {', '.join(missing)} ({why or 'parity check'}), not installed"
    return None


def polymorphic_shapes(specs, sample_inputs):
    """jax2tf shape specs for `specs` in which inputs that share an axis share a symbol.

    Keras names every unknown dimension separately (`(batch, a)`, `(batch, b, 16)`),
    so jax2tf cannot prove that two inputs have the same length and rejects
    any op that combines them per position. Here an unknown dimension is named
    by its axis and its size in `sample_inputs`: the tagger's `words` [B, T] and
    `chars` [B, T, L] get `(batch, d1_T)` and `(batch, d1_T, 16)`, while
    seq2seq's `source` and `target`, of different lengths, keep separate symbols.
    Axis 0 is always the shared `batch`.
    """
    specs_flat = keras.tree.flatten(specs)
    sample_flat = [np.asarray(a) for a in keras.tree.flatten(sample_inputs)]
    if len(specs_flat) != len(sample_flat):
        raise ValueError(
            f"Argument `sample_inputs` must hold {len(specs_flat)} arrays, one per model "
            f"input. Received: {len(sample_flat)}"
        )
    shapes = []
    for spec, sample in zip(specs_flat, sample_flat):
        dims = []
        for axis, dim in enumerate(spec.shape):
            if dim is not None:
                dims.append(str(dim))
            else:
                dims.append("batch" if axis == 0 else f"d{axis}_{sample.shape[axis]}")
        shapes.append(f"({', '.join(dims)})")
    return keras.tree.pack_sequence_as(specs, shapes)


def _require_onnx():
    try:
        import onnxruntime  # noqa: F401
    except ImportError as e:
        raise ImportError(
            "ONNX export needs the `onnx` extra: pip install 'keras-dlss[onnx]'"
        ) from e


def run_saved_model(path, inputs):
    """Runs the `serve` endpoint of the SavedModel at `path` on `inputs`."""
    import tensorflow as tf

    # Keep the loaded object alive while serving: it owns the variables (PITFALLS.md).
    loaded = tf.saved_model.load(path)
    flat = [tf.convert_to_tensor(v) for v in _flat_inputs(inputs)]
    args = _serving_args_signature(loaded.serve)
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        outputs = loaded.serve(type(args[0])(flat))
    elif len(args) == 1 and isinstance(args[0], dict):
        # Match dict inputs by name: the signature's key order need not be the caller's.
        named = inputs if isinstance(inputs, dict) else dict(zip(args[0].keys(), flat))
        outputs = loaded.serve({k: tf.convert_to_tensor(named[k]) for k in args[0]})
    else:
        outputs = loaded.serve(*flat)
    result = keras.tree.map_structure(lambda t: t.numpy(), outputs)
    del loaded
    return result


def _serving_args_signature(fn):
    """The positional-argument signature of a (restored) `tf.function`."""
    signature = getattr(fn, "structured_input_signature", None)
    if signature is None and getattr(fn, "concrete_functions", None):
        signature = fn.concrete_functions[0].structured_input_signature
    return signature[0] if signature else ()


def run_onnx(path, inputs):
    """Runs the ONNX model at `path` on `inputs` with onnxruntime."""
    _require_onnx()
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    specs = session.get_inputs()
    if isinstance(inputs, dict) and all(spec.name in inputs for spec in specs):
        flat = [np.asarray(inputs[spec.name]) for spec in specs]  # match by name, not order
    else:
        flat = _flat_inputs(inputs)
    feeds = {}
    for spec, value in zip(specs, flat):
        want = {
            "tensor(float)": np.float32,
            "tensor(double)": np.float64,
            "tensor(int32)": np.int32,
            "tensor(int64)": np.int64,
            "tensor(bool)": np.bool_,
        }.get(spec.type)
        feeds[spec.name] = value.astype(want) if want is not None else value
    return session.run(None, feeds)


def export_and_compare(model, path, sample_inputs, format="tf_saved_model"):
    """Exports `model`, runs the artifact on `sample_inputs`, returns the max abs difference."""
    # Calling first also marks a freshly loaded model as called, which ONNX export requires.
    expected = model(sample_inputs, training=False)
    export_model(model, path, format=format, sample_inputs=sample_inputs)
    if format == "onnx":
        actual = run_onnx(path, sample_inputs)
    else:
        actual = run_saved_model(path, sample_inputs)
    return max_abs_difference(expected, actual)


def try_export(model, path, sample_inputs, format="tf_saved_model"):
    """`export_and_compare` that never raises: the outcome as a JSON-ready dict.

    `{"ok": True, "path": ..., "max_abs_diff": ...}`, or `{"ok": False, "reason":
    ...}` with the reason on one line (`unavailable_reason`, or the exception's
    type and first line), for a CLI that must keep a trained run whatever happens.
    """
    try:
        diff = export_and_compare(model, path, sample_inputs, format=format)
    except Exception as e:  # noqa: BLE001 — every failure becomes a recorded reason
        return {"ok": False, "reason": one_line(e)}
    return {"ok": True, "path": path, "max_abs_diff": diff}


def one_line(error):
    """`Type: first informative line of the message`, for one-line reports of an exception.

    Keras wraps errors raised inside a layer as "Exception encountered when calling
    X.call()." followed by the cause: the cause is the informative line.
    """
    if isinstance(error, NotImplementedError) and str(error):
        return str(error).splitlines()[0]
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    where = next((x for x in lines if x.startswith("Exception encountered when calling")), "")
    cause = next((x for x in lines if not x.startswith("Exception encountered")), "")
    layer = re.search(r"calling (\S+?)\.call", where)
    prefix = f"{type(error).__name__}" + (f" in {layer.group(1)}" if layer else "")
    return f"{prefix}: {cause}"[:300]
