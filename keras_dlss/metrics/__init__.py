"""keras_dlss.metrics: public exports (each listed in `__all__`)."""

from keras_dlss.metrics.sequence_labeling import (
    TokenAccuracy,
    get_entities,
    span_f1,
    token_accuracy,
)
from keras_dlss.metrics.sharpness import sharpness

__all__ = ["TokenAccuracy", "get_entities", "sharpness", "span_f1", "token_accuracy"]
