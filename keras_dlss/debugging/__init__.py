"""keras_dlss.debugging: public exports (each listed in `__all__`)."""

__all__ = []
