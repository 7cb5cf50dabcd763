"""keras_dlss.decoding: public exports (each listed in `__all__`)."""

__all__ = []
