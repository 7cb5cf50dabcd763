"""keras_dlss.testing: public exports (each listed in `__all__`)."""

__all__ = []
