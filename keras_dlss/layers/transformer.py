"""Pre-norm Transformer encoder and decoder blocks, relative or absolute attention.

The blocks live in `transformer_encoder.py` and `transformer_decoder.py`
(their shared layout in `_transformer_block.py`); this module keeps the
import path `keras_dlss.layers.transformer` that earlier code used.
"""

from keras_dlss.layers.transformer_decoder import TransformerDecoderBlock
from keras_dlss.layers.transformer_encoder import TransformerEncoderBlock

__all__ = ["TransformerEncoderBlock", "TransformerDecoderBlock"]
