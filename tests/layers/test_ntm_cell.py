"""NTM addressing against hand-computed weightings; NTMCell in keras.layers.RNN; tasks."""

import keras
import numpy as np
import pytest

from keras_dlss.datasets import associative_recall, copy_task
from keras_dlss.debugging import gradient_check
from keras_dlss.layers import NTMCell
from keras_dlss.ops import circular_shift, content_addressing, interpolate, ntm_address, sharpen
from keras_dlss.testing import run_layer_test

_np = keras.ops.convert_to_numpy


def _f(x):
    return np.asarray(x, "float32")


def test_circular_shift_by_hand():
    w = _f([[0.1, 0.2, 0.3, 0.4]])
    # Offsets -1, 0, +1 with probabilities 0.5, 0, 0.5: w~_i = 0.5 w_{i+1} + 0.5 w_{i-1}.
    got = _np(circular_shift(w, _f([[0.5, 0.0, 0.5]])))
    expected = [[0.5 * (0.2 + 0.4), 0.5 * (0.3 + 0.1), 0.5 * (0.4 + 0.2), 0.5 * (0.1 + 0.3)]]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(_np(circular_shift(w, _f([[0, 0, 1]]))), [[0.4, 0.1, 0.2, 0.3]])
    np.testing.assert_allclose(_np(circular_shift(w, _f([[1, 0, 0]]))), [[0.2, 0.3, 0.4, 0.1]])
    two = _f([[0, 0, 0, 0, 1]])  # r = 2, offset +2
    np.testing.assert_allclose(_np(circular_shift(w, two)), [[0.3, 0.4, 0.1, 0.2]])


def test_sharpen_and_interpolate_by_hand():
    w = _f([[0.2, 0.3, 0.5]])
    got = _np(sharpen(w, _f([2.0])))
    np.testing.assert_allclose(got, [[0.04 / 0.38, 0.09 / 0.38, 0.25 / 0.38]], rtol=1e-5)
    np.testing.assert_allclose(_np(sharpen(w, _f([1.0]))), w, rtol=1e-5)
    mixed = _np(interpolate(_f([[1.0, 0, 0]]), _f([[0, 0, 1.0]]), _f([0.25])))
    np.testing.assert_allclose(mixed, [[0.25, 0, 0.75]])


def test_addressing_stays_finite_where_it_used_to_underflow():
    # A flat weighting over 128 locations to the power 30 underflows float32 (was 0 / 0).
    flat = np.full((1, 128), 1 / 128, "float32")
    np.testing.assert_allclose(_np(sharpen(flat, _f([30.0]))), flat, rtol=1e-5)
    # A memory row erased to exactly zero: sqrt's gradient at 0 was inf, the loss NaN.
    memory = keras.ops.convert_to_tensor(_f([[[0, 0], [1, 0]]]))
    key = keras.ops.convert_to_tensor(_f([[1, 1]]))
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(memory)
            loss = keras.ops.sum(content_addressing(memory, key, _f([5.0]))[:, 0])
        grad = _np(tape.gradient(loss, memory))
        assert np.isfinite(grad).all()


def test_content_addressing_is_a_softmax_of_cosines():
    memory = _f([[[1, 0], [0, 1], [1, 1]]])
    key = _f([[2, 0]])
    cosines = np.array([1.0, 0.0, 1 / np.sqrt(2)])
    expected = np.exp(3 * cosines) / np.exp(3 * cosines).sum()
    np.testing.assert_allclose(_np(content_addressing(memory, key, _f([3.0])))[0], expected, 1e-5)


def test_full_addressing_location_based_iteration():
    memory = np.random.default_rng(0).random((1, 5, 3)).astype("float32")
    previous = _f([[0, 0, 1, 0, 0]])
    one, zero = _f([1.0]), _f([0.0])
    w = _np(ntm_address(memory, previous, memory[:, 0], one, zero, _f([[0, 0, 1]]), one))
    np.testing.assert_allclose(w, [[0, 0, 0, 1, 0]], atol=1e-6)  # gate 0 + shift +1
    # Gate 1 and the identity shift: the content weighting, sharpened with gamma = 3.
    sharp = _np(ntm_address(memory, previous, memory[:, 0], one, one, _f([[0, 1, 0]]), _f([3.0])))
    m, k = memory[0], memory[0, 0]
    content = np.exp(m @ k / (np.linalg.norm(m, axis=1) * np.linalg.norm(k)))
    content = content / content.sum()
    np.testing.assert_allclose(sharp[0], content**3 / (content**3).sum(), rtol=1e-4)


def test_addressing_gradients_float64():
    rng = np.random.default_rng(0)
    args = [
        rng.random((2, 5, 3)),
        rng.dirichlet(np.ones(5), 2),
        rng.normal(size=(2, 3)),
        rng.random(2) + 0.5,
        rng.random(2),
        rng.dirichlet(np.ones(3), 2),
        1 + rng.random(2),
    ]
    gradient_check(lambda *a: ntm_address(*a), args, fast_mode=True)


def test_ntm_cell_in_rnn_and_memory_is_used():
    cell = NTMCell(8, memory_size=6, memory_width=4, read_heads=2, write_heads=1)
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    x = np.random.default_rng(1).random((2, 5, 3)).astype("float32")
    out, *states = rnn(x)
    assert out.shape == (2, 5, 8 + 2 * 4)
    read_w = _np(states[3]).reshape(2, 2, 6)
    np.testing.assert_allclose(read_w.sum(-1), 1.0, rtol=1e-4)
    assert not np.allclose(_np(states[2]), 1e-6)  # the write head changed the memory


@keras.saving.register_keras_serializable(package="tests_ntm")
class NTMSequence(keras.layers.Layer):
    """`RNN(NTMCell)` as one layer, so the conformance harness can drive the cell."""

    def __init__(self, units=3, memory_size=4, memory_width=2, **kwargs):
        super().__init__(**kwargs)
        self.units, self.memory_size, self.memory_width = units, memory_size, memory_width
        policy = self.dtype_policy
        cell = NTMCell(units, memory_size=memory_size, memory_width=memory_width, dtype=policy)
        self.rnn = keras.layers.RNN(cell, return_sequences=True, dtype=policy)

    def build(self, input_shape):
        self.rnn.build(input_shape)

    def call(self, x):
        return self.rnn(x)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], self.units + self.memory_width)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "memory_size": self.memory_size,
            "memory_width": self.memory_width,
        }


def test_conformance():
    x = np.random.default_rng(2).random((2, 3, 2)).astype("float32")
    report = run_layer_test(NTMSequence, {}, x, expected_output_shape=(2, 3, 5))
    assert "failed" not in str(report)


def test_copy_and_recall_data():
    x, y, w = copy_task(3, min_length=2, max_length=4, bits=5, seed=1)
    assert x.shape == (3, 9, 6) and y.shape == (3, 9, 5)
    for xi, yi, wi in zip(x, y, w):
        n = int(wi.sum())
        np.testing.assert_array_equal(xi[n, 5], 1.0)  # delimiter right after the sequence
        np.testing.assert_array_equal(yi[wi > 0], xi[:n, :5])
    x, y, w = associative_recall(2, min_items=3, max_items=3, item_length=2, bits=4)
    assert x.shape[-1] == 6 and w.sum() == 2 * 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="`shift_range`"):
        NTMCell(4, memory_size=2, shift_range=1)
    with pytest.raises(ValueError, match="`shift`"):
        circular_shift(_f([[0.5, 0.5]]), _f([[0.5, 0.5]]))
    with pytest.raises(ValueError, match="`max_length`"):
        copy_task(2, min_length=5, max_length=3)
