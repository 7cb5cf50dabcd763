"""Node classifiers on one graph: GAT (Veličković et al. 2018) and GCN (Kipf & Welling 2017).

Transductive, full-batch training: the whole graph is one example (batch 1), the
model outputs class probabilities for every node, and the loss counts only the
labelled nodes through Keras sample weights (`node_classification_inputs`). The
weights are scaled to average 1 over the labelled nodes, so the data loss is the
mean over those nodes as in the papers, and the L2 penalty keeps the weight the
papers give it (with 0/1 weights Keras would divide by all N nodes, shrinking the
data term 20x on Cora).

The graph input is an integer edge list `[1, E, 2]` (`graph="sparse"`, segment
softmax over edges) or a dense adjacency `[1, N, N]` (`graph="dense"`); both give
the same model, the benchmark compares their time and memory.
"""

import keras
import numpy as np

from keras_dlss import _validation as v
from keras_dlss.applications.preset_compile import PresetCompile
from keras_dlss.layers.graph_attention import GraphAttention
from keras_dlss.layers.graph_convolution import GraphConvolution

GRAPH_KINDS = ("sparse", "dense")


def _graph_input(graph):
    v.check_one_of("graph", graph, GRAPH_KINDS)
    if graph == "sparse":
        return keras.Input((None, 2), dtype="int32", name="edges")
    return keras.Input((None, None), name="adjacency")


def _resolve_jit(jit_compile):
    """`"auto"`: XLA on JAX only.

    On TensorFlow, XLA's CPU random-number generator makes the input dropout over
    Cora's 2708 x 1433 features cost ~8 s per step against ~0.1 s without XLA
    (benchmarks/cora.py); on JAX every step is an XLA program anyway, and
    `jit_compile=False` there would run op by op.
    """
    if jit_compile == "auto":
        return keras.backend.backend() == "jax"
    return jit_compile


def _classifier_io(num_features, num_classes, l2, learning_rate, graph):
    """Checks the arguments GAT and GCN share; returns `(features, graph)` inputs."""
    v.check_positive_int("num_features", num_features)
    v.check_positive_int("num_classes", num_classes, minimum=2)
    v.check_range("l2", l2, 0.0, None)
    v.check_range("learning_rate", learning_rate, 0.0, None, low_inclusive=False)
    return keras.Input((None, num_features), name="features"), _graph_input(graph)


class _NodeClassifier(PresetCompile, keras.Model):
    """`compile()` presets and config shared by GAT and GCN: Adam, cross-entropy, accuracy."""

    _config_keys = ()

    def _finish(self, inputs, logits, arguments, **kwargs):
        outputs = keras.layers.Softmax(name="probabilities")(logits)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        for key in self._config_keys:
            setattr(self, key, arguments[key])

    def compile(self, optimizer="auto", loss="auto", metrics="auto", jit_compile="auto", **kwargs):
        """Compiles with Adam at the preset learning rate unless told otherwise.

        `jit_compile="auto"` uses XLA on JAX only: on TensorFlow's CPU, XLA makes the
        input-feature dropout ~80x slower than the rest of the step.
        """
        self._compile_classifier(
            optimizer,
            loss,
            metrics,
            _resolve_jit(jit_compile),
            kwargs,
            preset_optimizer=lambda: keras.optimizers.Adam(self.learning_rate),
        )

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        return {**config, **{key: getattr(self, key) for key in self._config_keys}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_dlss")
class GAT(_NodeClassifier):
    """The two-layer graph attention network of Veličković et al. (2018), Cora setup.

    Hidden layer: `num_heads` heads of `hidden_units` features, concatenated, ELU.
    Output layer: `output_heads` heads averaged, softmax. Dropout on each layer's
    input and on the attention coefficients; L2 on the kernels.

    Args:
        num_features: int. Node feature size F.
        num_classes: int >= 2.
        hidden_units: int. Features per hidden head. Defaults to `8`.
        num_heads: int. Hidden heads. Defaults to `8`.
        output_heads: int. Output heads, averaged. Defaults to `1` (the paper's
            Cora setting; 8 on PubMed).
        dropout: float. Feature and attention dropout. Defaults to `0.6`.
        l2: float. L2 penalty of the kernels. Defaults to `5e-4`.
        learning_rate: float. Adam's learning rate for `compile()`. Defaults to `0.005`.
        graph: str. "sparse" (edge list input) or "dense" (adjacency input).
        seed: optional int seed of the dropout.

    Returns:
        A `keras.Model` mapping `[features [1, N, F], graph]` to class
        probabilities `[1, N, num_classes]`.

    Example:

    ```python
    from keras_dlss.applications import GAT, node_classification_inputs
    from keras_dlss.datasets import karate_club

    club = karate_club()
    x, y, weights = node_classification_inputs(club, club.train_index)
    model = GAT(club.features.shape[1], 2, hidden_units=4, num_heads=2)
    model.compile()                    # Adam 0.005; XLA on JAX only ("auto")
    model.fit(x, y, sample_weight=weights, epochs=1, verbose=0)
    ```

    References:
        Veličković et al. 2018, "Graph Attention Networks" (ICLR),
        https://arxiv.org/abs/1710.10903
    """

    _config_keys = (
        "num_features",
        "num_classes",
        "hidden_units",
        "num_heads",
        "output_heads",
        "dropout",
        "l2",
        "learning_rate",
        "graph",
        "seed",
    )

    def __init__(
        self,
        num_features,
        num_classes,
        hidden_units=8,
        num_heads=8,
        output_heads=1,
        dropout=0.6,
        l2=5e-4,
        learning_rate=0.005,
        graph="sparse",
        seed=None,
        **kwargs,
    ):
        arguments = dict(locals())
        features, graph_in = _classifier_io(num_features, num_classes, l2, learning_rate, graph)
        common = {
            "dropout": dropout,
            "attention_dropout": dropout,
            "kernel_regularizer": keras.regularizers.L2(l2) if l2 else None,
        }
        h = GraphAttention(
            hidden_units, num_heads, activation="elu", seed=seed, name="gat_hidden", **common
        )([features, graph_in])
        logits = GraphAttention(
            num_classes,
            output_heads,
            concat_heads=False,
            seed=None if seed is None else seed + 2,
            name="gat_output",
            **common,
        )([h, graph_in])
        self._finish([features, graph_in], logits, arguments, **kwargs)


@keras.saving.register_keras_serializable(package="keras_dlss")
class GCN(_NodeClassifier):
    """The two-layer graph convolutional network of Kipf & Welling (2017).

    GraphConvolution(hidden_units, ReLU) → GraphConvolution(num_classes) → softmax,
    dropout on each layer's input, L2 on the first layer's kernel only (as in the
    paper).

    Args:
        num_features: int. Node feature size F.
        num_classes: int >= 2.
        hidden_units: int. Defaults to `16`.
        dropout: float. Defaults to `0.5`.
        l2: float. L2 penalty of the first kernel. Defaults to `5e-4`.
        learning_rate: float. Adam's learning rate for `compile()`. Defaults to `0.01`.
        graph: str. "sparse" (edge list input) or "dense" (adjacency input).
        seed: optional int seed of the dropout.

    Returns:
        A `keras.Model` mapping `[features [1, N, F], graph]` to class
        probabilities `[1, N, num_classes]`.

    Example:

    ```python
    from keras_dlss.applications import GCN, node_classification_inputs
    from keras_dlss.datasets import karate_club

    club = karate_club()
    x, y, weights = node_classification_inputs(club, club.train_index, graph="dense")
    model = GCN(club.features.shape[1], 2, graph="dense")
    model.compile()
    model.fit(x, y, sample_weight=weights, epochs=1, verbose=0)
    ```

    References:
        Kipf & Welling 2017, "Semi-Supervised Classification with Graph
        Convolutional Networks" (ICLR), https://arxiv.org/abs/1609.02907
    """

    _config_keys = (
        "num_features",
        "num_classes",
        "hidden_units",
        "dropout",
        "l2",
        "learning_rate",
        "graph",
        "seed",
    )

    def __init__(
        self,
        num_features,
        num_classes,
        hidden_units=16,
        dropout=0.5,
        l2=5e-4,
        learning_rate=0.01,
        graph="sparse",
        seed=None,
        **kwargs,
    ):
        arguments = dict(locals())
        features, graph_in = _classifier_io(num_features, num_classes, l2, learning_rate, graph)
        h = GraphConvolution(
            hidden_units,
            dropout=dropout,
            activation="relu",
            kernel_regularizer=keras.regularizers.L2(l2) if l2 else None,
            seed=seed,
            name="gcn_hidden",
        )([features, graph_in])
        logits = GraphConvolution(
            num_classes, dropout=dropout, seed=None if seed is None else seed + 1, name="gcn_output"
        )([h, graph_in])
        self._finish([features, graph_in], logits, arguments, **kwargs)


def node_classification_inputs(data, index, graph="sparse"):
    """Model inputs, targets and sample weights for the nodes `index` of a `GraphData`.

    Args:
        data: a `keras_dlss.datasets.GraphData`.
        index: int array of the nodes the loss or metric counts.
        graph: "sparse" (edge list) or "dense" (adjacency).

    Returns:
        `(x, y, sample_weight)`: `x = [features [1, N, F], graph]`, `y` `[1, N]`
        int32, and `sample_weight` `[1, N]`, zero off `index` and averaging 1
        over it.
    """
    v.check_one_of("graph", graph, GRAPH_KINDS)
    index = np.asarray(index)
    if index.size == 0 or index.min() < 0 or index.max() >= data.num_nodes:
        raise ValueError(
            f"Argument `index` must hold node ids in [0, {data.num_nodes}). "
            f"Received: index of size {index.size}"
        )
    structure = data.edges if graph == "sparse" else data.adjacency()
    weights = np.zeros(data.num_nodes, "float32")
    weights[index] = data.num_nodes / len(np.unique(index))
    x = [data.features[None], structure[None]]
    return x, data.labels[None].astype("int32"), weights[None]
