"""keras_dlss.metrics: public exports (each listed in `__all__`)."""

__all__ = []
