"""Malformed calls of the point-cloud layers and ops: each must raise a ValueError naming the argument.

`CASES` is a list of `(public_name, argument_name, thunk)`, collected by
`tests/test_malformed_inputs.py`.
"""

import numpy as np

from keras_dlss.layers import EdgeConv, TNet
from keras_dlss.ops import gather_neighbors, knn_indices

_RNG = np.random.default_rng(0)
X = _RNG.normal(size=(2, 6, 3)).astype("float32")
IDX = np.zeros((2, 6, 2), "int32")

CASES = [
    ("knn_indices", "points", lambda: knn_indices(X[0], 2)),
    ("knn_indices", "points", lambda: knn_indices(X.astype("int32"), 2)),
    ("knn_indices", "k", lambda: knn_indices(X, 6)),
    ("knn_indices", "k", lambda: knn_indices(X, 0)),
    ("gather_neighbors", "features", lambda: gather_neighbors(X[0], IDX)),
    ("gather_neighbors", "indices", lambda: gather_neighbors(X, IDX[:1])),
    ("gather_neighbors", "indices", lambda: gather_neighbors(X, IDX.astype("float32"))),
    ("gather_neighbors", "indices", lambda: gather_neighbors(X, IDX + 6)),
    ("EdgeConv", "k", lambda: EdgeConv(4, k=6)(X)),
    ("EdgeConv", "units", lambda: EdgeConv(0)),
    ("EdgeConv", "inputs", lambda: EdgeConv(4, k=2)(X[0])),
    ("EdgeConv", "normalization", lambda: EdgeConv(4, normalization="group")),
    ("TNet", "inputs", lambda: TNet([4], [4])(X[0])),
    ("TNet", "point_units", lambda: TNet([], [4])),
    ("TNet", "dense_units", lambda: TNet([4], [0])),
]
