"""Malformed calls of the coverage ops: each raises a ValueError naming the argument."""

import numpy as np

from keras_dlss.ops import coverage_loss, coverage_vectors

_A = np.full((2, 3, 4), 0.25, "float32")

CASES = [
    ("coverage_loss", "attention", lambda: coverage_loss(_A[0])),
    ("coverage_loss", "mask", lambda: coverage_loss(_A, np.ones((2, 5)))),
    ("coverage_vectors", "attention", lambda: coverage_vectors(_A.astype("int32"))),
    ("coverage_vectors", "mask", lambda: coverage_vectors(_A, np.ones((3, 4)))),
]
