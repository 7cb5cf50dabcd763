"""Malformed calls of the multimodal fusion layers: each raises a ValueError naming the argument."""

import numpy as np

from keras_dlss.layers import FiLM, GatedMultimodalUnit

MAPS = np.zeros((2, 3, 3, 4), "float32")

CASES = [
    (
        "FiLM",
        "gamma",
        lambda: FiLM()([MAPS, np.ones((2, 3), "float32"), np.zeros((2, 4), "float32")]),
    ),
    (
        "FiLM",
        "beta",
        lambda: FiLM()([MAPS, np.ones((2, 4), "float32"), np.zeros((2, 4, 1), "float32")]),
    ),
    ("GatedMultimodalUnit", "units", lambda: GatedMultimodalUnit(0)),
    (
        "GatedMultimodalUnit",
        "inputs",
        lambda: GatedMultimodalUnit(2)([np.zeros((2, 3), "float32")]),
    ),
]
