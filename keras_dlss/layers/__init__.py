"""keras_dlss.layers: public exports (each listed in `__all__`)."""

from keras_dlss.layers.attention import AttentionWrapper, BahdanauAttention, LuongAttention
from keras_dlss.layers.crf import CRF, CRFModel, crf_targets
from keras_dlss.layers.dense_crf import DenseCRF
from keras_dlss.layers.edge_conv import EdgeConv
from keras_dlss.layers.fixed_point import FixedPointLayer
from keras_dlss.layers.mixed_operation import MixedOperation
from keras_dlss.layers.normalization_factory import normalization
from keras_dlss.layers.relative_attention import RelativeMultiHeadAttention
from keras_dlss.layers.tnet import TNet
from keras_dlss.layers.transformer_decoder import TransformerDecoderBlock
from keras_dlss.layers.transformer_encoder import TransformerEncoderBlock
from keras_dlss.layers.weight_standardization import WeightStandardizedConv2D

__all__ = [
    "CRF",
    "CRFModel",
    "AttentionWrapper",
    "BahdanauAttention",
    "LuongAttention",
    "RelativeMultiHeadAttention",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
    "crf_targets",
    "FixedPointLayer",
    "MixedOperation",
    "WeightStandardizedConv2D",
    "normalization",
    "DenseCRF",
    "EdgeConv",
    "TNet",
]
