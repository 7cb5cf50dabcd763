"""Malformed calls of the graph layers and ops: each raises a ValueError naming the argument."""

import numpy as np

from keras_dlss.layers import GraphAttention, GraphConvolution
from keras_dlss.ops import graph_attention, graph_convolution, segment_softmax

X = np.zeros((1, 4, 3), "float32")
EDGES = np.array([[[0, 1], [1, 0], [2, 4]]], "int32")  # node 4 does not exist


CASES = [
    ("GraphAttention", "edges", lambda: GraphAttention(2)([X, EDGES])),
    ("GraphAttention", "self_loops", lambda: GraphAttention(2, self_loops="twice")),
    ("GraphConvolution", "adjacency", lambda: GraphConvolution(2)([X, np.ones((1, 4, 3))])),
    ("GraphConvolution", "features", lambda: GraphConvolution(2)([X[0], np.ones((1, 4, 4))])),
    (
        "graph_attention",
        "scores_target",
        lambda: graph_attention(
            np.zeros((1, 4, 1, 2)), np.zeros((1, 3, 1)), np.zeros((1, 4, 1)), EDGES
        ),
    ),
    ("graph_convolution", "edges", lambda: graph_convolution(X, EDGES)),
    (
        "segment_softmax",
        "segment_ids",
        lambda: segment_softmax(np.zeros(3), np.array([0, 1, 5]), 2),
    ),
]
