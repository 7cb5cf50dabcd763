"""keras_dlss.ops: public exports (each listed in `__all__`)."""

__all__ = []
