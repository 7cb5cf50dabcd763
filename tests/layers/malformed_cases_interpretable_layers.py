"""Malformed calls of `layers.MonotonicDense` and `layers.NeuralAdditiveModel` (collected by tests/test_malformed_inputs.py)."""

import numpy as np

from keras_dlss.layers import MonotonicDense


def _built_then_wrong_width():
    layer = MonotonicDense(2)
    layer(np.ones((2, 3), "float32"))
    return layer(np.ones((2, 4), "float32"))


CASES = [
    ("MonotonicDense", "inputs", lambda: MonotonicDense(2)(np.ones((3,), "float32"))),
    ("MonotonicDense", "inputs", _built_then_wrong_width),
    ("MonotonicDense", "increasing", lambda: MonotonicDense(2, increasing=[3])(np.ones((2, 3)))),
    ("MonotonicDense", "activation", lambda: MonotonicDense(2, activation="swish")),
]


def _nam_wrong_width():
    from keras_dlss.layers import NeuralAdditiveModel

    layer = NeuralAdditiveModel(hidden_units=(2,))
    layer(np.ones((2, 3), "float32"))
    return layer(np.ones((2, 4), "float32"))


def _nam_rank3():
    from keras_dlss.layers import NeuralAdditiveModel

    return NeuralAdditiveModel(hidden_units=(2,))(np.ones((2, 3, 1), "float32"))


CASES += [
    ("NeuralAdditiveModel", "inputs", _nam_rank3),
    ("NeuralAdditiveModel", "inputs", _nam_wrong_width),
]
