"""GraphConvolution: the GCN layer (Kipf & Welling 2017), the GAT paper's baseline.

H' = activation(D^-1/2 Â D^-1/2 H W + b): every node averages its neighbours'
projected features with fixed weights set by the degrees, where GAT learns them.
W is applied before propagation when it shrinks the features (Cora: 1,433 -> 16),
so the N x N (or E) product runs on the narrow side.
"""

import keras
from keras import ops

from keras_dlss import _validation as v
from keras_dlss.layers.graph_attention import _split_inputs, _split_shapes
from keras_dlss.ops._graph import SELF_LOOPS, check_graph
from keras_dlss.ops.graph_convolution import graph_convolution


@keras.saving.register_keras_serializable(package="keras_dlss")
class GraphConvolution(keras.layers.Layer):
    """Graph convolution with the renormalized adjacency D^-1/2 (A + I) D^-1/2.

    Args:
        units: int >= 1. Output features.
        self_loops: str. "add" (the paper's A + I), "remove" or "keep".
            Defaults to `"add"`.
        dropout: float in [0, 1). Dropout on the input features. Defaults to `0`.
        activation: Defaults to `None`.
        use_bias: bool. Defaults to `True`.
        kernel_initializer: Defaults to `"glorot_uniform"`.
        bias_initializer: Defaults to `"zeros"`.
        kernel_regularizer: optional regularizer of W (the paper: L2 5e-4 on the
            first layer).
        seed: optional int seed of the dropout.

    Call arguments:
        inputs: a list `[features, graph]` as for `GraphAttention`: features
            `[batch, N, F]` and a dense adjacency `[batch, N, N]` or an integer
            edge list `[batch, E, 2]`.
        training: bool. Enables dropout.

    Returns:
        `[batch, N, units]`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import GraphConvolution

    features = np.random.rand(1, 4, 3).astype("float32")
    ring = np.roll(np.eye(4, dtype="float32"), 1, axis=1)[None]
    out = GraphConvolution(2)([features, ring + ring.transpose(0, 2, 1)])   # [1, 4, 2]
    ```

    References:
        Kipf & Welling 2017, "Semi-Supervised Classification with Graph
        Convolutional Networks" (ICLR), https://arxiv.org/abs/1609.02907
    """

    def __init__(
        self,
        units,
        self_loops="add",
        dropout=0.0,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = v.check_positive_int("units", units)
        self.self_loops = v.check_one_of("self_loops", self_loops, SELF_LOOPS)
        self.dropout = v.check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.seed = seed
        self.feature_dropout = keras.layers.Dropout(dropout, seed=seed, dtype=self.dtype_policy)

    def build(self, input_shape):
        features_shape = _split_shapes(input_shape)[0]
        if features_shape[-1] is None:
            raise ValueError(
                "Argument `features` must have a known last axis. "
                f"Received: features.shape={v.shape_str(features_shape)}"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(features_shape[-1], self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer)
            if self.use_bias
            else None
        )

    def call(self, inputs, training=None):
        features, graph = _split_inputs(inputs)
        v.check_rank("features", features, 3)
        check_graph(graph, features.shape[1], self.self_loops)
        features = self.feature_dropout(features, training=training)
        if self.units <= features.shape[-1]:
            out = graph_convolution(
                ops.matmul(features, self.kernel), graph, self_loops=self.self_loops
            )
        else:
            out = ops.matmul(
                graph_convolution(features, graph, self_loops=self.self_loops), self.kernel
            )
        if self.bias is not None:
            out = out + self.bias
        return self.activation(out)

    def compute_output_shape(self, input_shape):
        features_shape = _split_shapes(input_shape)[0]
        return (features_shape[0], features_shape[1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "self_loops": self.self_loops,
            "dropout": self.dropout,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "seed": self.seed,
        }
