"""keras_dlss.callbacks: public exports (each listed in `__all__`)."""

__all__ = []
