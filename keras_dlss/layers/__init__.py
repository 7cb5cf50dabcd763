"""keras_dlss.layers: public exports (each listed in `__all__`)."""

__all__ = []
