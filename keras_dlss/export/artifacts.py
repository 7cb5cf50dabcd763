"""Export Keras models to SavedModel and ONNX and measure parity (TensorFlow-specific).

`model.export` does the exporting; this module adds what users ask next: load the
artifact back, run it on a sample batch and report the largest absolute
difference from the Keras model.
"""

import os

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


def export_model(model, path, format="tf_saved_model", verbose=False):
    """Exports `model` to `path` in `format` ("tf_saved_model" or "onnx"); returns `path`."""
    if format not in FORMATS:
        raise ValueError(
            f"Argument `format` must be one of {list(FORMATS)}. Received: format={format!r}"
        )
    if format == "onnx":
        _require_onnx()
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
    model.export(path, format=format, verbose=verbose)
    return path


def _require_onnx():
    try:
        import onnxruntime  # noqa: F401
        import tf2onnx  # noqa: F401
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
    export_model(model, path, format=format)
    if format == "onnx":
        actual = run_onnx(path, sample_inputs)
    else:
        actual = run_saved_model(path, sample_inputs)
    return max_abs_difference(expected, actual)
