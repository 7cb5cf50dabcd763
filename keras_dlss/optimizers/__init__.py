"""keras_dlss.optimizers: public exports (each listed in `__all__`)."""

__all__ = []
