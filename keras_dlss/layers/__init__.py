"""keras_dlss.layers: public exports (each listed in `__all__`)."""

from keras_dlss.layers.attention import AttentionWrapper, BahdanauAttention, LuongAttention
from keras_dlss.layers.biaffine import Biaffine
from keras_dlss.layers.bidaf_attention import BiDAFAttention
from keras_dlss.layers.bilinear_pooling import BilinearPooling
from keras_dlss.layers.crf import CRF, CRFModel, crf_targets
from keras_dlss.layers.dense_crf import DenseCRF
from keras_dlss.layers.edge_conv import EdgeConv
from keras_dlss.layers.end_to_end_memory import EndToEndMemory, LinearStart
from keras_dlss.layers.film import FiLM
from keras_dlss.layers.fixed_point import FixedPointLayer
from keras_dlss.layers.gated_feedback_lstm import GatedFeedbackLSTMCell
from keras_dlss.layers.gated_multimodal import GatedMultimodalUnit
from keras_dlss.layers.graph_attention import GraphAttention
from keras_dlss.layers.graph_convolution import GraphConvolution
from keras_dlss.layers.hierarchical_multiscale_lstm import (
    HierarchicalMultiscaleLSTM,
    HierarchicalMultiscaleLSTMCell,
)
from keras_dlss.layers.mixed_operation import MixedOperation
from keras_dlss.layers.monotonic_dense import MonotonicDense
from keras_dlss.layers.multi_dimensional_rnn import MultiDimensionalRNN
from keras_dlss.layers.multiplicative_lstm import MultiplicativeLSTMCell
from keras_dlss.layers.neural_additive import NeuralAdditiveModel
from keras_dlss.layers.normalization_factory import normalization
from keras_dlss.layers.ntm_cell import NTMCell
from keras_dlss.layers.pointer_attention import PointerAttention
from keras_dlss.layers.pointer_generator import PointerGenerator
from keras_dlss.layers.relative_attention import RelativeMultiHeadAttention
from keras_dlss.layers.stacked_rnn import StackedRNN
from keras_dlss.layers.tnet import TNet
from keras_dlss.layers.transformer_decoder import TransformerDecoderBlock
from keras_dlss.layers.transformer_encoder import TransformerEncoderBlock
from keras_dlss.layers.tree_lstm import ChildSumTreeLSTM, NaryTreeLSTM
from keras_dlss.layers.weight_standardization import WeightStandardizedConv2D

__all__ = [
    "BiDAFAttention",
    "MultiplicativeLSTMCell",
    "HierarchicalMultiscaleLSTM",
    "HierarchicalMultiscaleLSTMCell",
    "MultiDimensionalRNN",
    "StackedRNN",
    "GatedFeedbackLSTMCell",
    "EndToEndMemory",
    "LinearStart",
    "NTMCell",
    "PointerAttention",
    "PointerGenerator",
    "FiLM",
    "GatedMultimodalUnit",
    "BilinearPooling",
    "GraphAttention",
    "GraphConvolution",
    "Biaffine",
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
    "MonotonicDense",
    "NeuralAdditiveModel",
    "WeightStandardizedConv2D",
    "normalization",
    "DenseCRF",
    "EdgeConv",
    "TNet",
    "ChildSumTreeLSTM",
    "NaryTreeLSTM",
]
