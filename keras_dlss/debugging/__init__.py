"""keras_dlss.debugging: public exports (each listed in `__all__`)."""

from keras_dlss.debugging.gradient_check import gradient_check
from keras_dlss.debugging.gradient_report import (
    GradientCheckError,
    GradientCheckReport,
    TensorCheck,
)

__all__ = ["GradientCheckError", "GradientCheckReport", "TensorCheck", "gradient_check"]
