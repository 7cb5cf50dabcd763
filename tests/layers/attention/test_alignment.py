"""The shared `AttentionMechanism` base: Keras masks on the memory."""

import warnings

import keras
import numpy as np
import pytest

from keras_dlss.layers import BahdanauAttention, LuongAttention

TOKENS = np.array([[3, 4, 5, 6, 7], [3, 4, 0, 0, 0]])
QUERY = np.random.default_rng(3).normal(size=(2, 8)).astype("float32")


@pytest.mark.parametrize("make", [lambda: BahdanauAttention(6), lambda: LuongAttention("general")])
def test_keras_masked_memory_is_consumed_without_mask_warning(make):
    memory = keras.layers.Embedding(10, 8, mask_zero=True)(TOKENS)
    layer = make()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        positional = [np.asarray(t) for t in layer(QUERY, memory)]
        listed = [np.asarray(t) for t in layer([QUERY, memory])]
    assert not [w for w in caught if "mask" in str(w.message)], [str(w.message) for w in caught]
    want = [np.asarray(t) for t in layer(QUERY, np.asarray(memory), TOKENS != 0)]
    for got in (positional, listed):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=1e-6)
    np.testing.assert_array_equal(positional[1][1, 2:], 0.0)  # the mask took effect
