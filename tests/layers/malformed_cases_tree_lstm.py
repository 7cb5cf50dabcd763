"""Malformed Tree-LSTM calls: ValueError naming the argument."""

import numpy as np

from keras_dlss.layers import ChildSumTreeLSTM, NaryTreeLSTM

X = np.zeros((1, 3, 2), "float32")

CASES = [
    ("ChildSumTreeLSTM", "heads", lambda: ChildSumTreeLSTM(2)(X, np.array([[2, 3, 1]]))),
    ("ChildSumTreeLSTM", "heads", lambda: ChildSumTreeLSTM(2)(X, np.array([[0, 0, 1]]))),
    ("ChildSumTreeLSTM", "heads", lambda: ChildSumTreeLSTM(2)(X, np.array([[0, 1, 7]]))),
    ("ChildSumTreeLSTM", "heads", lambda: ChildSumTreeLSTM(2)(X, np.array([[0, 1]]))),
    ("ChildSumTreeLSTM", "inputs", lambda: ChildSumTreeLSTM(2)(X[0], np.array([0, 1, 1]))),
    ("ChildSumTreeLSTM", "units", lambda: ChildSumTreeLSTM(0)),
    ("NaryTreeLSTM", "heads", lambda: NaryTreeLSTM(2)(X, np.array([[2, 3, 1]]))),
    ("NaryTreeLSTM", "num_children", lambda: NaryTreeLSTM(2, num_children=0)),
]
