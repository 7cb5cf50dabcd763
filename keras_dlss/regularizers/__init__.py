"""keras_dlss.regularizers: public exports (each listed in `__all__`)."""

from keras_dlss.regularizers.orthogonality import OrthogonalityRegularizer

__all__ = ["OrthogonalityRegularizer"]
