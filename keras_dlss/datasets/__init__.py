"""keras_dlss.datasets: public exports (each listed in `__all__`)."""

__all__ = []
