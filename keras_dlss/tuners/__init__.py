"""keras_dlss.tuners: public exports (each listed in `__all__`)."""

__all__ = []
