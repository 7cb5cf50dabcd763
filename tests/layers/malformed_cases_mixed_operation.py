"""Malformed calls of `layers.MixedOperation`: each raises a ValueError naming the argument."""

import keras
import numpy as np

from keras_dlss.layers import MixedOperation


def _wrong_alpha_shape():
    layer = MixedOperation([keras.layers.Dense(2), keras.layers.Dense(2)])
    layer(np.ones((1, 3), "float32"), alpha=np.zeros(5, "float32"))


CASES = [
    ("MixedOperation", "candidates", lambda: MixedOperation([])),
    ("MixedOperation", "candidates", lambda: MixedOperation(keras.layers.Dense(2))),
    ("MixedOperation", "alpha", _wrong_alpha_shape),
]
