"""Malformed calls of BilinearPooling: each raises a ValueError naming the argument."""

import numpy as np

from keras_dlss.layers import BilinearPooling

X, Y = np.zeros((2, 3), "float32"), np.zeros((2, 4), "float32")

CASES = [
    ("BilinearPooling", "mode", lambda: BilinearPooling("outer")),
    ("BilinearPooling", "output_dim", lambda: BilinearPooling("compact", output_dim=0)),
    ("BilinearPooling", "rank", lambda: BilinearPooling("low_rank")),
    ("BilinearPooling", "inputs", lambda: BilinearPooling("full")(X)),
    ("BilinearPooling", "y", lambda: BilinearPooling("full")([X, np.zeros((3, 4), "float32")])),
    ("BilinearPooling", "x", lambda: BilinearPooling("full")([np.zeros((3,), "float32"), Y])),
]
