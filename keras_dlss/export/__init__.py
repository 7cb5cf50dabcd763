"""keras_dlss.export: public exports (each listed in `__all__`)."""

__all__ = []
