"""GraphAttention: the GAT layer (Veličković et al. 2018).

Each head projects node features with W, scores every edge (i, j) with
LeakyReLU(a^T [W x_i || W x_j]), normalizes the scores over i's neighbours and
averages the neighbours' W x_j with those weights (`keras_dlss.ops.graph_attention`
holds the math). Heads are concatenated (hidden layers) or averaged (the output
layer, Eq. 6). Dropout is the paper's two kinds: on the layer's input features and
on the normalized attention coefficients, so every node sees a random sub-sample
of its neighbourhood in each training step.

The graph is a second input, not a constructor argument, so one model runs on any
graph, and the input decides the path: a float/bool adjacency `[batch, N, N]` runs
the dense path, an integer edge list `[batch, E, 2]` the sparse one
(`segment_softmax`); both give the same outputs. Full-batch node classification
treats the whole graph as one example (batch 1).
"""

import keras
from keras import ops

from keras_dlss import _validation as v
from keras_dlss.ops._graph import SELF_LOOPS, check_graph
from keras_dlss.ops.graph_attention import graph_attention


@keras.saving.register_keras_serializable(package="keras_dlss")
class GraphAttention(keras.layers.Layer):
    """Multi-head masked attention over graph neighbourhoods (GAT).

    Args:
        units: int >= 1. Output features per head.
        num_heads: int >= 1. Attention heads K. Defaults to `1`.
        concat_heads: bool. Concatenate the heads (`[.., K * units]`) or average
            them (`[.., units]`, the paper's output layer). Defaults to `True`.
        self_loops: str. "add" (each node attends to itself too; the paper's),
            "remove" or "keep" (the graph as given). Defaults to `"add"`.
        dropout: float in [0, 1). Dropout on the input features. Defaults to `0`.
        attention_dropout: float in [0, 1). Dropout on the normalized attention
            coefficients. Defaults to `0`.
        negative_slope: float >= 0. LeakyReLU slope of the scores. Defaults to `0.2`.
        activation: activation applied after combining the heads (the paper: ELU
            in hidden layers, none before the output softmax). Defaults to `None`.
        use_bias: bool. Defaults to `True`.
        kernel_initializer: initializer of W and of the attention vectors.
            Defaults to `"glorot_uniform"`.
        bias_initializer: Defaults to `"zeros"`.
        kernel_regularizer: optional regularizer of W (the paper: L2 5e-4).
        seed: optional int seed of the dropout.

    Call arguments:
        inputs: a list `[features, graph]`: features `[batch, N, F]` and either a
            dense adjacency `[batch, N, N]` (float or bool; entry (i, j) nonzero
            means node i attends to node j) or an integer edge list
            `[batch, E, 2]` of `(i, j)` pairs, `(-1, -1)` for padding.
        training: bool. Enables dropout.

    Returns:
        `[batch, N, num_heads * units]` (concatenated) or `[batch, N, units]`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import GraphAttention

    features = np.random.rand(1, 5, 3).astype("float32")
    edges = np.array([[[0, 1], [1, 0], [1, 2], [2, 1], [3, 4], [4, 3]]], "int32")
    out = GraphAttention(4, num_heads=2)([features, edges])   # [1, 5, 8]
    ```

    References:
        Veličković et al. 2018, "Graph Attention Networks" (ICLR),
        https://arxiv.org/abs/1710.10903
    """

    def __init__(
        self,
        units,
        num_heads=1,
        concat_heads=True,
        self_loops="add",
        dropout=0.0,
        attention_dropout=0.0,
        negative_slope=0.2,
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
        self.num_heads = v.check_positive_int("num_heads", num_heads)
        self.concat_heads = bool(concat_heads)
        self.self_loops = v.check_one_of("self_loops", self_loops, SELF_LOOPS)
        self.dropout = v.check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False)
        self.attention_dropout = v.check_range(
            "attention_dropout", attention_dropout, 0.0, 1.0, high_inclusive=False
        )
        self.negative_slope = v.check_range("negative_slope", negative_slope, 0.0, None)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.seed = seed
        self.feature_dropout = keras.layers.Dropout(dropout, seed=seed, dtype=self.dtype_policy)
        self.coefficient_dropout = keras.layers.Dropout(
            attention_dropout, seed=None if seed is None else seed + 1, dtype=self.dtype_policy
        )

    def build(self, input_shape):
        features_shape = _split_shapes(input_shape)[0]
        channels = features_shape[-1]
        if channels is None:
            raise ValueError(
                "Argument `features` must have a known last axis. "
                f"Received: features.shape={v.shape_str(features_shape)}"
            )
        heads, units = self.num_heads, self.units
        self.kernel = self.add_weight(
            name="kernel",
            shape=(channels, heads * units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.attention_target = self.add_weight(
            name="attention_target", shape=(heads, units), initializer=self.kernel_initializer
        )
        self.attention_source = self.add_weight(
            name="attention_source", shape=(heads, units), initializer=self.kernel_initializer
        )
        width = heads * units if self.concat_heads else units
        self.bias = (
            self.add_weight(name="bias", shape=(width,), initializer=self.bias_initializer)
            if self.use_bias
            else None
        )

    def call(self, inputs, training=None):
        features, graph = _split_inputs(inputs)
        v.check_rank("features", features, 3)
        check_graph(graph, features.shape[1], self.self_loops)
        features = self.feature_dropout(features, training=training)
        projected = ops.matmul(features, self.kernel)
        projected = ops.reshape(projected, (-1, ops.shape(features)[1], self.num_heads, self.units))
        scores_target = ops.sum(projected * self.attention_target, axis=-1)
        scores_source = ops.sum(projected * self.attention_source, axis=-1)
        out = graph_attention(
            projected,
            scores_target,
            scores_source,
            graph,
            self_loops=self.self_loops,
            negative_slope=self.negative_slope,
            dropout=lambda a: self.coefficient_dropout(a, training=training),
        )
        if self.concat_heads:
            out = ops.reshape(out, (-1, ops.shape(out)[1], self.num_heads * self.units))
        else:
            out = ops.mean(out, axis=2)
        if self.bias is not None:
            out = out + self.bias
        return self.activation(out)

    def compute_output_shape(self, input_shape):
        features_shape = _split_shapes(input_shape)[0]
        width = self.num_heads * self.units if self.concat_heads else self.units
        return (features_shape[0], features_shape[1], width)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "num_heads": self.num_heads,
            "concat_heads": self.concat_heads,
            "self_loops": self.self_loops,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "negative_slope": self.negative_slope,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "seed": self.seed,
        }


def _split_shapes(input_shape):
    if not (isinstance(input_shape, (list, tuple)) and len(input_shape) == 2) or not isinstance(
        input_shape[0], (list, tuple)
    ):
        raise ValueError(
            "Argument `inputs` must be a list [features, graph]. "
            f"Received: inputs.shape={input_shape}"
        )
    return input_shape


def _split_inputs(inputs):
    if not (isinstance(inputs, (list, tuple)) and len(inputs) == 2):
        raise ValueError(
            "Argument `inputs` must be a list [features, graph]. "
            f"Received: inputs={type(inputs).__name__}"
        )
    return ops.convert_to_tensor(inputs[0]), ops.convert_to_tensor(inputs[1])
