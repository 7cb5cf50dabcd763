"""Malformed calls of the language-model layers and metrics: each raises a ValueError naming the argument."""

import numpy as np

from keras_dlss.layers import MultiplicativeLSTMCell
from keras_dlss.metrics import BitsPerCharacter, Perplexity

_LOGITS = np.zeros((2, 3, 5), "float32")

CASES = [
    ("MultiplicativeLSTMCell", "units", lambda: MultiplicativeLSTMCell(0)),
    ("Perplexity", "y_true", lambda: Perplexity().update_state(np.zeros((2, 3, 4, 1)), _LOGITS)),
    ("Perplexity", "ignore_class", lambda: Perplexity(ignore_class=0.5)),
    (
        "BitsPerCharacter",
        "y_true",
        lambda: BitsPerCharacter().update_state(np.zeros((2, 3, 4, 1)), _LOGITS),
    ),
    ("BitsPerCharacter", "from_logits", lambda: BitsPerCharacter(from_logits="yes")),
]
