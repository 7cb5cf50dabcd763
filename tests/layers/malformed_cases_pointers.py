"""Malformed calls of the pointer layers: each raises a ValueError naming the argument."""

import numpy as np

from keras_dlss.layers import PointerAttention

_QUERY = np.zeros((2, 3, 4), "float32")
_MEMORY = np.zeros((2, 5, 4), "float32")

CASES = [
    ("PointerAttention", "memory", lambda: PointerAttention(4)(_QUERY, _MEMORY[0])),
    (
        "PointerAttention",
        "memory_mask",
        lambda: PointerAttention(4)(_QUERY, _MEMORY, np.ones((2, 4), "int32")),
    ),
]
