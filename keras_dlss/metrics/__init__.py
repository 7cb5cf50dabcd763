"""keras_dlss.metrics: public exports (each listed in `__all__`)."""

from keras_dlss.metrics.sharpness import sharpness

__all__ = ["sharpness"]
