"""Malformed deep-RNN calls (issue #16): ValueError naming the argument."""

import numpy as np

from keras_dlss.layers import (
    HierarchicalMultiscaleLSTM,
    HierarchicalMultiscaleLSTMCell,
    MultiDimensionalRNN,
    StackedRNN,
)

CASES = [
    ("HierarchicalMultiscaleLSTMCell", "units", lambda: HierarchicalMultiscaleLSTMCell(0)),
    (
        "HierarchicalMultiscaleLSTMCell",
        "slope",
        lambda: HierarchicalMultiscaleLSTMCell(2, slope=-1),
    ),
    (
        "HierarchicalMultiscaleLSTM",
        "num_layers",
        lambda: HierarchicalMultiscaleLSTM(2, num_layers=0),
    ),
    ("StackedRNN", "connections", lambda: StackedRNN(2, connections="dense")),
    ("StackedRNN", "dropout", lambda: StackedRNN(2, dropout=1.0)),
    ("MultiDimensionalRNN", "directions", lambda: MultiDimensionalRNN(2, directions=3)),
    (
        "MultiDimensionalRNN",
        "inputs",
        lambda: MultiDimensionalRNN(2)(np.zeros((1, 3, 4), "float32")),
    ),
]
