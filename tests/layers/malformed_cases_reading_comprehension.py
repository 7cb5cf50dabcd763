"""Malformed calls of the BiDAF reader's public pieces: each raises a ValueError naming the argument."""

import numpy as np

from keras_dlss.decoding import best_span
from keras_dlss.layers import BiDAFAttention
from keras_dlss.metrics import squad_exact_match, squad_f1

_C = np.zeros((2, 5, 4), "float32")
_Q = np.zeros((2, 3, 4), "float32")
_L = np.zeros((2, 5), "float32")

CASES = [
    ("BiDAFAttention", "inputs", lambda: BiDAFAttention()([_C, _Q[..., :3]])),
    ("best_span", "max_answer_length", lambda: best_span(_L, _L, max_answer_length=0)),
    ("squad_exact_match", "references", lambda: squad_exact_match(["a", "b"], [["a"]])),
    ("squad_f1", "references", lambda: squad_f1("a", [])),
]
