"""keras_dlss.layers: public exports (each listed in `__all__`)."""

from keras_dlss.layers.relative_attention import RelativeMultiHeadAttention

__all__ = [
    "RelativeMultiHeadAttention",
]
