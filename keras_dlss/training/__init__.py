"""keras_dlss.training: public exports (each listed in `__all__`)."""

__all__ = []
