"""Exporting to SavedModel and ONNX with parity checks (TensorFlow-specific)."""

from keras_dlss.export.artifacts import (
    FORMATS,
    export_and_compare,
    export_model,
    max_abs_difference,
    one_line,
    polymorphic_shapes,
    run_onnx,
    run_saved_model,
    try_export,
    unavailable_reason,
)

__all__ = [
    "FORMATS",
    "export_and_compare",
    "export_model",
    "max_abs_difference",
    "one_line",
    "polymorphic_shapes",
    "run_onnx",
    "run_saved_model",
    "try_export",
    "unavailable_reason",
]
