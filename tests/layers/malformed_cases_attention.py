"""Malformed calls of the attention layers and ops: each must raise a ValueError naming the argument.

`CASES` is a list of `(public_name, argument_name, thunk)`; `tests/test_malformed_inputs.py`
asserts `pytest.raises(ValueError, match=f"`{argument_name}`")` on each thunk.
"""

import keras
import numpy as np

from keras_dlss import ops as dlss_ops
from keras_dlss.layers import (
    AttentionWrapper,
    BahdanauAttention,
    LuongAttention,
    RelativeMultiHeadAttention,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)

_RNG = np.random.default_rng(0)


def _f(*shape):
    return _RNG.normal(size=shape).astype("float32")


def _ones(*shape, dtype="bool"):
    return np.ones(shape, dtype)


X = _f(2, 6, 8)


def _rmha(**kwargs):
    return RelativeMultiHeadAttention(2, 4, **kwargs)


def _cached_rmha():
    layer = _rmha(causal=True, max_relative_position=4)
    return layer, layer.initial_cache(2, 6)


def _decoder(**kwargs):
    return TransformerDecoderBlock(2, 6, max_relative_position=4, **kwargs)


def _wrapper():
    return AttentionWrapper(keras.layers.GRUCell(4), BahdanauAttention(3))


def _wrapper_step(inputs, drop_state=False):
    wrapper = _wrapper()
    state = wrapper.initial_state(_f(2, 5, 6))
    wrapper(_f(2, 3), state)  # builds with 3 input features
    return wrapper(inputs, state[:-1] if drop_state else state)


Q2, MEM = _f(2, 4), _f(2, 5, 6)

CASES = [
    # RelativeMultiHeadAttention
    ("RelativeMultiHeadAttention", "query", lambda: _rmha()(_f(2, 8))),
    ("RelativeMultiHeadAttention", "query", lambda: _rmha()(np.ones((2, 6, 8), "int32"))),
    ("RelativeMultiHeadAttention", "value", lambda: _rmha()(X, _f(3, 6, 8))),
    ("RelativeMultiHeadAttention", "value", lambda: _rmha()(X, _f(2, 6))),
    ("RelativeMultiHeadAttention", "value", lambda: _rmha()(X, np.ones((2, 6, 8), "int32"))),
    ("RelativeMultiHeadAttention", "key", lambda: _rmha()(X, _f(2, 5, 8), _f(2, 4, 8))),
    ("RelativeMultiHeadAttention", "mask", lambda: _rmha()(X, mask=_ones(2, 5))),
    ("RelativeMultiHeadAttention", "query_mask", lambda: _rmha()(X, X, query_mask=_ones(2, 5))),
    (
        "RelativeMultiHeadAttention",
        "value_mask",
        lambda: _rmha()(X, _f(2, 4, 8), value_mask=_ones(2, 6)),
    ),
    ("RelativeMultiHeadAttention", "key_mask", lambda: _rmha()(X, X, key_mask=_ones(3, 6))),
    (
        "RelativeMultiHeadAttention",
        "attention_mask",
        lambda: _rmha()(X, attention_mask=_ones(2, 6, 5)),
    ),
    (
        "RelativeMultiHeadAttention",
        "attention_mask",
        lambda: _rmha()(X, attention_mask=_ones(2, 6)),
    ),
    (
        "RelativeMultiHeadAttention",
        "query",
        lambda: (lambda layer: (layer(X), layer(_f(2, 6, 5))))(_rmha()),
    ),
    (
        "RelativeMultiHeadAttention",
        "cache",
        lambda: _cached_rmha()[0](X[:, :1], cache=_f(2, 2, 6, 3, 4), cache_update_index=0),
    ),
    (
        "RelativeMultiHeadAttention",
        "cache",
        lambda: _cached_rmha()[0](X[:, :1], cache=_f(3, 2, 6, 2, 4), cache_update_index=0),
    ),
    (
        "RelativeMultiHeadAttention",
        "cache_update_index",
        lambda: (lambda lc: lc[0](X[:, :1], cache=lc[1]))(_cached_rmha()),
    ),
    (
        "RelativeMultiHeadAttention",
        "cache_update_index",
        lambda: (lambda lc: lc[0](X[:, :1], cache=lc[1], cache_update_index=np.float32(1.0)))(
            _cached_rmha()
        ),
    ),
    (
        "RelativeMultiHeadAttention",
        "value_mask",
        lambda: (
            lambda lc: lc[0](X[:, :1], cache=lc[1], cache_update_index=0, value_mask=_ones(2, 5))
        )(_cached_rmha()),
    ),
    # TransformerEncoderBlock
    ("TransformerEncoderBlock", "inputs", lambda: TransformerEncoderBlock(2, 6)(_f(2, 8))),
    (
        "TransformerEncoderBlock",
        "inputs",
        lambda: TransformerEncoderBlock(2, 6)(np.ones((2, 6, 8), "int32")),
    ),
    ("TransformerEncoderBlock", "mask", lambda: TransformerEncoderBlock(2, 6)(X, mask=_ones(2, 5))),
    (
        "TransformerEncoderBlock",
        "padding_mask",
        lambda: TransformerEncoderBlock(2, 6)(X, padding_mask=_ones(3, 6)),
    ),
    (
        "TransformerEncoderBlock",
        "attention_mask",
        lambda: TransformerEncoderBlock(2, 6)(X, attention_mask=_ones(2, 6, 7)),
    ),
    (
        "TransformerEncoderBlock",
        "inputs",
        lambda: (lambda b: (b(X), b(_f(2, 6, 4))))(TransformerEncoderBlock(2, 6)),
    ),
    # TransformerDecoderBlock
    ("TransformerDecoderBlock", "decoder_sequence", lambda: _decoder()(_f(2, 8))),
    (
        "TransformerDecoderBlock",
        "decoder_sequence",
        lambda: _decoder()(np.ones((2, 6, 8), "float16").astype("int64")),
    ),
    ("TransformerDecoderBlock", "mask", lambda: _decoder()(X, mask=_ones(2, 7))),
    (
        "TransformerDecoderBlock",
        "decoder_padding_mask",
        lambda: _decoder()(X, decoder_padding_mask=_ones(2, 7)),
    ),
    (
        "TransformerDecoderBlock",
        "decoder_attention_mask",
        lambda: _decoder()(X, decoder_attention_mask=_ones(2, 5, 6)),
    ),
    ("TransformerDecoderBlock", "memory", lambda: _decoder()(X, memory=_f(3, 4, 8))),
    ("TransformerDecoderBlock", "encoder_sequence", lambda: _decoder()(X, _f(2, 4))),
    (
        "TransformerDecoderBlock",
        "encoder_sequence",
        lambda: _decoder()(X, np.ones((2, 4, 8), "int32")),
    ),
    (
        "TransformerDecoderBlock",
        "memory_mask",
        lambda: _decoder()(X, memory=_f(2, 4, 8), memory_mask=_ones(2, 5)),
    ),
    (
        "TransformerDecoderBlock",
        "encoder_padding_mask",
        lambda: _decoder()(X, _f(2, 4, 8), encoder_padding_mask=_ones(2, 6)),
    ),
    (
        "TransformerDecoderBlock",
        "encoder_attention_mask",
        lambda: _decoder()(X, _f(2, 4, 8), encoder_attention_mask=_ones(2, 6, 5)),
    ),
    (
        "TransformerDecoderBlock",
        "cache",
        lambda: _decoder()(X[:, :1], cache=_f(2, 2, 6, 2), cache_update_index=0),
    ),
    (
        "TransformerDecoderBlock",
        "self_attention_cache",
        lambda: _decoder()(
            X[:, :1], self_attention_cache=_f(3, 2, 6, 2, 4), self_attention_cache_update_index=0
        ),
    ),
    (
        "TransformerDecoderBlock",
        "cache_update_index",
        lambda: _decoder()(X[:, :1], cache=_f(2, 2, 6, 2, 4)),
    ),
    (
        "TransformerDecoderBlock",
        "use_causal_mask",
        lambda: _decoder()(X, use_causal_mask=False),
    ),
    # BahdanauAttention / LuongAttention
    ("BahdanauAttention", "query", lambda: BahdanauAttention(3)(_f(2, 3, 4), MEM)),
    ("BahdanauAttention", "query", lambda: BahdanauAttention(3)(np.ones((2, 4), "int32"), MEM)),
    ("BahdanauAttention", "memory", lambda: BahdanauAttention(3)(Q2, _f(2, 6))),
    ("BahdanauAttention", "memory", lambda: BahdanauAttention(3)(Q2, _f(3, 5, 6))),
    ("BahdanauAttention", "memory", lambda: BahdanauAttention(3)(Q2, np.ones((2, 5, 6), "int32"))),
    ("BahdanauAttention", "memory_mask", lambda: BahdanauAttention(3)(Q2, MEM, _ones(2, 4))),
    ("BahdanauAttention", "memory_mask", lambda: BahdanauAttention(3)(Q2, MEM, _ones(2, 5, 1))),
    ("BahdanauAttention", "mask", lambda: BahdanauAttention(3)([Q2, MEM], mask=_ones(2, 5))),
    ("BahdanauAttention", "inputs", lambda: BahdanauAttention(3)([Q2, MEM, MEM])),
    (
        "BahdanauAttention",
        "memory",
        lambda: (lambda a: (a(Q2, MEM), a(Q2, _f(2, 5, 7))))(BahdanauAttention(3)),
    ),
    ("LuongAttention", "query", lambda: LuongAttention()(_f(2, 3, 4), MEM)),
    ("LuongAttention", "memory", lambda: LuongAttention()(Q2, _f(3, 5, 6))),
    ("LuongAttention", "memory", lambda: LuongAttention()(Q2, np.ones((2, 5, 6), "int64"))),
    ("LuongAttention", "memory_mask", lambda: LuongAttention()(Q2, MEM, _ones(3, 5))),
    ("LuongAttention", "mask", lambda: LuongAttention()([Q2, MEM], mask=[None, _ones(2, 4)])),
    # AttentionWrapper
    ("AttentionWrapper", "memory", lambda: _wrapper().initial_state(_f(2, 5))),
    ("AttentionWrapper", "memory", lambda: _wrapper().initial_state(np.ones((2, 5, 6), "int32"))),
    ("AttentionWrapper", "memory_mask", lambda: _wrapper().initial_state(MEM, _ones(2, 4))),
    ("AttentionWrapper", "memory_mask", lambda: _wrapper().initial_state(MEM, _ones(3, 5))),
    ("AttentionWrapper", "cell_state", lambda: _wrapper().initial_state(MEM, None, _f(3, 4))),
    ("AttentionWrapper", "inputs", lambda: _wrapper_step(_f(2, 2, 3))),
    ("AttentionWrapper", "inputs", lambda: _wrapper_step(_f(3, 3))),
    ("AttentionWrapper", "inputs", lambda: _wrapper_step(_f(2, 5))),
    ("AttentionWrapper", "inputs", lambda: _wrapper_step(np.ones((2, 3), "int32"))),
    ("AttentionWrapper", "states", lambda: _wrapper_step(_f(2, 3), drop_state=True)),
    # ops.relative_position_logits
    (
        "relative_position_logits",
        "query",
        lambda: dlss_ops.relative_position_logits(_f(3), _f(5, 3)),
    ),
    (
        "relative_position_logits",
        "query",
        lambda: dlss_ops.relative_position_logits(np.ones((1, 2, 4, 3), "int32"), _f(7, 3)),
    ),
    (
        "relative_position_logits",
        "relative_embeddings",
        lambda: dlss_ops.relative_position_logits(_f(1, 2, 4, 3), np.ones((7, 3), "int32")),
    ),
    (
        "relative_position_logits",
        "relative_embeddings",
        lambda: dlss_ops.relative_position_logits(_f(1, 2, 4, 3), _f(7)),
    ),
    (
        "relative_position_logits",
        "relative_embeddings",
        lambda: dlss_ops.relative_position_logits(_f(1, 2, 4, 3), _f(7, 5)),
    ),
    (
        "relative_position_logits",
        "relative_embeddings",
        lambda: dlss_ops.relative_position_logits(_f(1, 2, 4, 3), _f(3, 7, 3)),
    ),
    (
        "relative_position_logits",
        "relative_embeddings",
        lambda: dlss_ops.relative_position_logits(_f(1, 2, 4, 3), _f(2, 3), causal=False),
    ),
    (
        "relative_position_logits",
        "causal",
        lambda: dlss_ops.relative_position_logits(_f(1, 2, 4, 3), _f(9, 3), causal=True),
    ),
]
