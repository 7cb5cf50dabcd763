"""keras_dlss.schedules: public exports (each listed in `__all__`)."""

__all__ = []
