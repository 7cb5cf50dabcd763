"""Attention mechanisms over a memory and the `AttentionWrapper` RNN cell."""

from keras_dlss.layers.attention.attention_wrapper import AttentionWrapper
from keras_dlss.layers.attention.bahdanau import BahdanauAttention
from keras_dlss.layers.attention.luong import LuongAttention

__all__ = ["AttentionWrapper", "BahdanauAttention", "LuongAttention"]
