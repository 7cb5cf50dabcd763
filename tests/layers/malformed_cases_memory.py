"""Malformed calls of the memory-network and NTM layers and ops: each raises a ValueError naming the argument."""

import numpy as np

from keras_dlss import ops as dlss_ops
from keras_dlss.layers import EndToEndMemory, LinearStart, NTMCell

_W = np.full((2, 4), 0.25, "float32")


def _memory_rank():
    ids = np.ones((2, 5), "int32")
    return EndToEndMemory(10)([ids, ids])


CASES = [
    ("EndToEndMemory", "inputs", _memory_rank),
    ("LinearStart", "max_epochs", lambda: LinearStart(max_epochs=0)),
    ("NTMCell", "shift_range", lambda: NTMCell(4, memory_size=2, shift_range=1)),
    ("circular_shift", "shift", lambda: dlss_ops.circular_shift(_W, np.ones((2, 2), "float32"))),
    ("content_addressing", "memory", lambda: dlss_ops.content_addressing(_W, _W, _W[:, 0])),
    (
        "ntm_address",
        "shift",
        lambda: dlss_ops.ntm_address(
            np.ones((2, 4, 3), "float32"), _W, _W[:, :3], _W[:, 0], _W[:, 0], _W, _W[:, 0]
        ),
    ),
]
EXEMPT = {
    "interpolate": "elementwise blend of two weightings and a gate; shapes broadcast",
    "sharpen": "elementwise power and normalisation; any shape broadcasts",
}
