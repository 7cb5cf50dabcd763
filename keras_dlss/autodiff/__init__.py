"""keras_dlss.autodiff: public exports (each listed in `__all__`)."""

__all__ = []
