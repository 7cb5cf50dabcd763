"""keras_dlss.losses: public exports (each listed in `__all__`)."""

__all__ = []
