"""keras_dlss.debugging: public exports (each listed in `__all__`)."""

from keras_dlss.debugging.diagnostics import (
    diagnose_loss_curve,
    layer_gradient_norms,
    saturation_fractions,
)
from keras_dlss.debugging.gradient_check import gradient_check
from keras_dlss.debugging.gradient_report import (
    GradientCheckError,
    GradientCheckReport,
    TensorCheck,
)
from keras_dlss.debugging.overfit_batch import OverfitReport, overfit_batch

__all__ = [
    "GradientCheckError",
    "GradientCheckReport",
    "OverfitReport",
    "TensorCheck",
    "diagnose_loss_curve",
    "gradient_check",
    "layer_gradient_norms",
    "overfit_batch",
    "saturation_fractions",
]
