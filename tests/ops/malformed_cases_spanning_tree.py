"""Malformed calls of the tree decoders, the biaffine scorer and the attachment scores."""

import numpy as np

from keras_dlss.layers import Biaffine
from keras_dlss.metrics import attachment_scores
from keras_dlss.ops import (
    chu_liu_edmonds,
    eisner,
    maximum_spanning_tree,
    stack_pop,
    stack_push,
    stack_top,
)

_SQUARE = np.zeros((4, 4), "float32")
_MEMORY, _SIZE, _WHERE = np.zeros((2, 3, 4), "float32"), np.zeros(2, "int32"), np.ones(2, bool)

CASES = [
    (
        "stack_push",
        "values",
        lambda: stack_push(_MEMORY, _SIZE, np.zeros((2, 5), "float32"), _WHERE),
    ),
    (
        "stack_push",
        "size",
        lambda: stack_push(_MEMORY, np.zeros(3, "int32"), _MEMORY[:, 0], _WHERE),
    ),
    ("stack_push", "where", lambda: stack_push(_MEMORY, _SIZE, _MEMORY[:, 0], np.ones(3, bool))),
    ("stack_pop", "size", lambda: stack_pop(np.zeros((2, 1), "int32"), _WHERE)),
    ("stack_pop", "where", lambda: stack_pop(_SIZE, np.ones((2, 2), bool))),
    ("stack_top", "size", lambda: stack_top(_MEMORY, np.zeros(2, "float32"))),
    ("stack_top", "memory", lambda: stack_top(np.zeros(3, "float32"), _SIZE)),
    ("stack_top", "depth", lambda: stack_top(_MEMORY, _SIZE, depth=-1)),
    ("chu_liu_edmonds", "scores", lambda: chu_liu_edmonds(np.zeros((3, 4)))),
    ("chu_liu_edmonds", "scores", lambda: chu_liu_edmonds(np.zeros((1, 1)))),
    ("eisner", "scores", lambda: eisner(np.zeros((2, 3, 3)))),
    ("eisner", "scores", lambda: eisner(np.full((3, 3), np.nan))),
    ("maximum_spanning_tree", "scores", lambda: maximum_spanning_tree(_SQUARE)),
    (
        "maximum_spanning_tree",
        "lengths",
        lambda: maximum_spanning_tree(_SQUARE[None], lengths=[4]),
    ),
    ("Biaffine", "units", lambda: Biaffine(0)),
    (
        "Biaffine",
        "dependents",
        lambda: Biaffine(1)([np.zeros((2, 3), "float32"), np.zeros((2, 3, 4), "float32")]),
    ),
    ("Biaffine", "inputs", lambda: Biaffine(1)(np.zeros((2, 3, 4), "float32"))),
    (
        "attachment_scores",
        "pred_heads",
        lambda: attachment_scores([[2, 0]], [["a", "root"]], [[2]], [["a", "root"]]),
    ),
    (
        "attachment_scores",
        "gold_heads",
        lambda: attachment_scores([], [], [], []),
    ),
]
