"""keras_dlss.ops: public exports (each listed in `__all__`)."""

from keras_dlss.ops.relative_attention import relative_position_logits

__all__ = [
    "relative_position_logits",
]
