import warnings

import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.layers import AttentionWrapper, BahdanauAttention, LuongAttention
from keras_dlss.testing import run_layer_test

RNG = np.random.default_rng(2)
INPUTS = RNG.normal(size=(2, 4, 3)).astype("float32")
MEMORY = RNG.normal(size=(2, 5, 6)).astype("float32")
MASK = np.array([[1] * 5, [1] * 2 + [0] * 3], "int32")


@keras.saving.register_keras_serializable(package="keras_dlss_tests")
class AttentionDecoder(keras.layers.Layer):
    """`RNN(AttentionWrapper(...))` as one layer, so the harness can drive it."""

    def __init__(
        self, units=4, cell="lstm", mechanism="bahdanau", attention_layer_size=5, **kwargs
    ):
        super().__init__(**kwargs)
        self.units, self.cell, self.mechanism = units, cell, mechanism
        self.attention_layer_size = attention_layer_size
        cell_cls = keras.layers.LSTMCell if cell == "lstm" else keras.layers.GRUCell
        attention = (
            BahdanauAttention(units, dtype=self.dtype_policy)
            if mechanism == "bahdanau"
            else LuongAttention("general", scale=True, dtype=self.dtype_policy)
        )
        self.wrapper = AttentionWrapper(
            cell_cls(units, dtype=self.dtype_policy),
            attention,
            attention_layer_size=attention_layer_size,
            return_alignments=True,
            dtype=self.dtype_policy,
        )
        self.rnn = keras.layers.RNN(self.wrapper, return_sequences=True, dtype=self.dtype_policy)

    def build(self, inputs_shape, memory_shape, memory_mask_shape=None):
        self.wrapper.build_attention(memory_shape)
        self.wrapper.build((inputs_shape[0], inputs_shape[-1]))
        self.rnn.built = True

    def call(self, inputs, memory, memory_mask=None):
        state = self.wrapper.initial_state(memory, memory_mask)
        return self.wrapper.split_alignments(self.rnn(inputs, initial_state=state))

    def compute_output_shape(self, inputs_shape, memory_shape, memory_mask_shape=None):
        size = self.attention_layer_size or memory_shape[-1]
        return (*inputs_shape[:2], size), (*inputs_shape[:2], memory_shape[1])

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "cell": self.cell,
            "mechanism": self.mechanism,
            "attention_layer_size": self.attention_layer_size,
        }


@pytest.mark.parametrize("cell,mechanism,size", [("lstm", "bahdanau", 5), ("gru", "luong", None)])
def test_conformance(cell, mechanism, size):
    # Includes the float64 finite-difference gradient check through the RNN loop.
    run_layer_test(
        AttentionDecoder,
        {"cell": cell, "mechanism": mechanism, "attention_layer_size": size},
        INPUTS,
        call_kwargs={"memory": MEMORY, "memory_mask": MASK},
        expected_output_shape=[(2, 4, size or 6), (2, 4, 5)],
        check_masking=False,  # masks are explicit `memory_mask`, tested by effect below
        check_mixed_precision=(cell == "lstm"),
    )


def test_alignment_history_sums_to_one_and_ignores_masked_memory():
    layer = AttentionDecoder()
    outputs, alignments = (np.asarray(x) for x in layer(INPUTS, MEMORY, MASK))
    np.testing.assert_allclose(alignments.sum(-1), 1.0, rtol=1e-5)
    assert np.all(alignments[1, :, 2:] == 0.0)
    noisy = MEMORY.copy()
    noisy[1, 2:] = 1e3
    outputs2, alignments2 = (np.asarray(x) for x in layer(INPUTS, noisy, MASK))
    np.testing.assert_allclose(outputs, outputs2, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(alignments, alignments2, rtol=1e-6, atol=1e-6)


def test_rnn_equals_manual_steps_with_input_feeding():
    wrapper = AttentionWrapper(
        keras.layers.GRUCell(4), LuongAttention("dot"), attention_layer_size=None
    )
    memory = MEMORY[..., :4]
    rnn = keras.layers.RNN(wrapper, return_sequences=True)
    full = np.asarray(rnn(INPUTS, initial_state=wrapper.initial_state(memory, MASK)))
    state = wrapper.initial_state(memory, MASK)
    for t in range(INPUTS.shape[1]):
        out, state = wrapper(INPUTS[:, t], state)
        np.testing.assert_allclose(full[:, t], out, rtol=1e-5, atol=1e-6)
    # Input feeding: the previous attention vector enters the next cell input.
    assert wrapper.cell.kernel.shape[0] == 3 + 4


def test_output_attention_false_outputs_cell_output():
    wrapper = AttentionWrapper(
        keras.layers.LSTMCell(4), BahdanauAttention(3), output_attention=False
    )
    state = wrapper.initial_state(MEMORY)
    out, new_state = wrapper(INPUTS[:, 0], state)
    np.testing.assert_allclose(out, new_state[0], rtol=1e-6)  # LSTM h


def test_needs_memory_first():
    wrapper = AttentionWrapper(keras.layers.LSTMCell(4), BahdanauAttention(3))
    with pytest.raises(ValueError, match="memory"):
        keras.layers.RNN(wrapper)(INPUTS)
    with pytest.raises(ValueError, match="cell"):
        AttentionWrapper("lstm", BahdanauAttention(3))
    with pytest.raises(ValueError, match="attention_layer_size"):
        AttentionWrapper(keras.layers.LSTMCell(4), BahdanauAttention(3), attention_layer_size=0)
    with pytest.raises(ValueError, match="memory"):
        wrapper.initial_state(MEMORY[:, 0])
    assert ops.shape(wrapper.initial_state(MEMORY)[0]) == (2, 4)


def test_keras_masked_decoder_inputs_give_no_mask_warning():
    # The RNN consumes the mask; the wrapper and its mechanism never see it. (Keras fills
    # `mask` from the inputs only when they are the sole tensor argument, so with
    # `initial_state` the mask is passed explicitly.)
    tokens = np.array([[1, 2, 3, 4], [1, 2, 0, 0]])
    inputs = keras.layers.Embedding(10, 3, mask_zero=True)(tokens)
    wrapper = AttentionWrapper(keras.layers.GRUCell(4), BahdanauAttention(4))
    rnn = keras.layers.RNN(wrapper, return_sequences=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        state = wrapper.initial_state(MEMORY, MASK)
        outputs = np.asarray(rnn(inputs, initial_state=state, mask=tokens != 0))
    assert not [w for w in caught if "mask" in str(w.message)], [str(w.message) for w in caught]
    # Masked steps carry the last unmasked output forward (Keras RNN masking).
    np.testing.assert_allclose(outputs[1, 2:], outputs[1, 1:2].repeat(2, 0), atol=1e-6)


def test_symbolic_none_dims_and_xla():
    import tensorflow as tf

    wrapper = AttentionWrapper(keras.layers.LSTMCell(4), LuongAttention("general"), 5)
    rnn = keras.layers.RNN(wrapper, return_sequences=True)

    @tf.function(
        jit_compile=True,
        input_signature=[
            tf.TensorSpec((None, None, 3)),
            tf.TensorSpec((None, None, 6)),
            tf.TensorSpec((None, None), tf.int32),
        ],
    )
    def decode(inputs, memory, mask):
        return rnn(inputs, initial_state=wrapper.initial_state(memory, mask))

    out = np.asarray(decode(INPUTS, MEMORY, MASK))
    assert out.shape == (2, 4, 5) and np.all(np.isfinite(out))
