"""DARTS cells and networks: the search network and its discrete retraining network.

Liu, Simonyan & Yang, "DARTS: Differentiable Architecture Search", ICLR 2019
(arXiv:1806.09055), Sections 2.1 and 3.1. A cell is a directed acyclic graph
of `steps` intermediate nodes; node `i` sums one operation applied to each of
its inputs (the two cell inputs, the outputs of the two previous cells, and
the earlier nodes), and the cell outputs the concatenation of all intermediate
nodes. A reduction cell applies stride 2 on the edges that leave the cell
inputs; the network is a stem convolution, a stack of normal cells with a
reduction cell at 1/3 and 2/3 of its depth, global average pooling and a
softmax classifier.

One class, two modes:

* `DARTSNetwork(genotype=None)` is the *search* network: every edge is a
  `layers.MixedOperation` over the eight `PRIMITIVES`, and all normal cells
  share one `alphas_normal` `[edges, 8]` weight (all reduction cells one
  `alphas_reduce`), as in the paper. The network owns the two weights and
  passes each edge its row, so the architecture is one pair of variables
  (`architecture_variables`) that `derive_genotype()` reads.
* `DARTSNetwork(genotype=...)`, or `DARTSNetwork.from_genotype(genotype, ...)`,
  is the *discrete* network for retraining: each node keeps the two chosen
  `[op, input]` edges of the genotype, with affine batch normalizations.

Both are subclassed `keras.Model`s built in the constructor (the shapes follow
from `input_shape`), so they save and load as `.keras` files.
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_positive_int
from keras_dlss.applications.darts_genotype import check_genotype, derive_genotype, num_edges
from keras_dlss.applications.darts_operations import (
    PRIMITIVES,
    FactorizedReduce,
    darts_operation,
    relu_conv_bn,
)
from keras_dlss.layers.mixed_operation import MixedOperation

__all__ = ["DARTSCell", "DARTSNetwork"]


@keras.saving.register_keras_serializable(package="keras_dlss")
class DARTSCell(keras.layers.Layer):
    """One DARTS cell (normal or reduction), searched or discrete.

    Args:
        channels: int. Channels of every node (the output has `steps * channels`).
        reduction: bool. Halve the resolution (stride 2 on the input edges).
        reduction_prev: bool. The previous cell reduced, so the first input is
            twice the resolution of the second and is factorized-reduced.
        steps: int. Intermediate nodes.
        genotype: None for a search cell (each edge a `MixedOperation` with
            shared architecture weights, passed as `alphas=` `[edges, 8]`), or
            the cell's list of `[op, input]` pairs, two per node.

    Call arguments: `[s0, s1]` (the two previous cells' outputs), `alphas`
    (search cells only) and `training`.
    """

    def __init__(self, channels, reduction, reduction_prev, steps=4, genotype=None, **kwargs):
        super().__init__(**kwargs)
        self.channels = check_positive_int("channels", channels, minimum=2)
        self.reduction = bool(reduction)
        self.reduction_prev = bool(reduction_prev)
        self.steps = check_positive_int("steps", steps)
        self.genotype = None if genotype is None else [list(p) for p in genotype]
        affine = self.genotype is not None
        self.preprocess0 = (
            FactorizedReduce(channels, affine=affine, name="preprocess0")
            if self.reduction_prev
            else relu_conv_bn(channels, affine=affine, name="preprocess0")
        )
        self.preprocess1 = relu_conv_bn(channels, affine=affine, name="preprocess1")
        self.edges = []
        if self.genotype is None:
            for i in range(self.steps):
                for j in range(2 + i):
                    stride = self._stride(j)
                    ops_ = [darts_operation(p, channels, stride, affine=False) for p in PRIMITIVES]
                    self.edges.append(MixedOperation(ops_, shared_alpha=True, name=f"edge_{i}_{j}"))
        else:
            for op, j in self.genotype:
                self.edges.append(darts_operation(op, channels, self._stride(j), affine=True))

    def _stride(self, j):
        return 2 if self.reduction and j < 2 else 1

    def build(self, input_shape):
        s0_shape, s1_shape = input_shape[0], input_shape[1]
        self.preprocess0.build(s0_shape)
        self.preprocess1.build(s1_shape)
        state = tuple(s1_shape[:3]) + (self.channels,)
        for k, edge in enumerate(self.edges):
            source = self._edge_source(k)
            edge.build(state if source < 2 else self._node_shape(state))
        self.built = True

    def _edge_source(self, k):
        if self.genotype is not None:
            return int(self.genotype[k][1])
        i = 0
        while k >= 2 + i:
            k -= 2 + i
            i += 1
        return k

    def _node_shape(self, state):
        s = 2 if self.reduction else 1
        return (state[0], _div(state[1], s), _div(state[2], s), self.channels)

    def call(self, inputs, alphas=None, training=None):
        states = [
            self.preprocess0(inputs[0], training=training),
            self.preprocess1(inputs[1], training=training),
        ]
        k = 0
        for i in range(self.steps):
            if self.genotype is None:
                terms = [
                    self.edges[k + j](states[j], alpha=alphas[k + j], training=training)
                    for j in range(2 + i)
                ]
                k += 2 + i
            else:
                terms = [
                    self.edges[2 * i + n](states[self.genotype[2 * i + n][1]], training=training)
                    for n in range(2)
                ]
            states.append(sum(terms[1:], terms[0]))
        return ops.concatenate(states[2:], axis=-1)

    def compute_output_shape(self, input_shape):
        node = self._node_shape(tuple(input_shape[1][:3]) + (self.channels,))
        return node[:3] + (self.steps * self.channels,)

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "reduction": self.reduction,
            "reduction_prev": self.reduction_prev,
            "steps": self.steps,
            "genotype": self.genotype,
        }


def _div(d, s):
    return None if d is None else (d + s - 1) // s


@keras.saving.register_keras_serializable(package="keras_dlss")
class DARTSNetwork(keras.Model):
    """The DARTS convolutional network, for searching (`genotype=None`) or retraining.

    A stem convolution with `stem_multiplier * channels` maps, `num_cells`
    cells (reduction cells at `num_cells // 3` and `2 * num_cells // 3`, each
    doubling the channels), global average pooling and a softmax classifier.
    The defaults are small, for 32x32 images on a CPU: 5 cells of 4 nodes and
    8 channels (the paper searches with 8 cells of 16 channels).

    Args:
        num_classes: int. Classes of the softmax output. Defaults to `10`.
        input_shape: tuple `(height, width, channels)`. Defaults to `(32, 32, 3)`.
        channels: int. Channels per node in the first cells. Defaults to `8`.
        num_cells: int. Cells in the stack. Defaults to `5`.
        steps: int. Intermediate nodes per cell. Defaults to `4` (the paper's).
        stem_multiplier: int. Stem channels over `channels`. Defaults to `3`.
        genotype: None (search network with `alphas_normal`/`alphas_reduce`), or
            a genotype dict (see `derive_genotype`) for the discrete network; its
            number of nodes overrides `steps`.
        **kwargs: `keras.Model` arguments (`name`).

    Returns:
        A built `keras.Model` mapping `[B, *input_shape]` images to `[B, num_classes]`
        class probabilities.

    Example:

    ```python
    net = keras_dlss.applications.DARTSNetwork(
        num_classes=3, input_shape=(8, 8, 3), channels=2, num_cells=1, steps=1)
    genotype = net.derive_genotype()          # top-2 non-zero edges per node
    child = keras_dlss.applications.DARTSNetwork.from_genotype(
        genotype, num_classes=3, input_shape=(8, 8, 3), channels=2, num_cells=1)
    assert child(np.zeros((1, 8, 8, 3), "float32")).shape == (1, 3)
    ```

    References:
        Liu, Simonyan & Yang, 2019. "DARTS: Differentiable Architecture
        Search". https://arxiv.org/abs/1806.09055
    """

    def __init__(
        self,
        num_classes=10,
        input_shape=(32, 32, 3),
        channels=8,
        num_cells=5,
        steps=4,
        stem_multiplier=3,
        genotype=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = check_positive_int("num_classes", num_classes, minimum=2)
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 3:
            raise ValueError(
                "Argument `input_shape` must be (height, width, channels). "
                f"Received: input_shape={input_shape!r}"
            )
        self.image_shape = tuple(int(d) for d in input_shape)
        self.channels = check_positive_int("channels", channels, minimum=2)
        self.num_cells = check_positive_int("num_cells", num_cells)
        self.steps = check_positive_int("steps", steps)
        self.stem_multiplier = check_positive_int("stem_multiplier", stem_multiplier)
        if genotype is not None:
            self.steps = check_genotype(genotype)
            genotype = {
                k: [list(p) if isinstance(p, (list, tuple)) else p for p in v]
                for k, v in genotype.items()
            }
        self.genotype = genotype
        self.stem = keras.Sequential(
            [
                keras.layers.Conv2D(stem_multiplier * channels, 3, padding="same", use_bias=False),
                keras.layers.BatchNormalization(),
            ],
            name="stem",
        )
        self.cells = []
        c, reduction_prev = channels, False
        for i in range(self.num_cells):
            reduction = i in (self.num_cells // 3, 2 * self.num_cells // 3)
            c = 2 * c if reduction else c
            cell_genotype = None
            if genotype is not None:
                cell_genotype = genotype["reduce" if reduction else "normal"]
            self.cells.append(
                DARTSCell(c, reduction, reduction_prev, self.steps, cell_genotype, name=f"cell_{i}")
            )
            reduction_prev = reduction
        self.pool = keras.layers.GlobalAveragePooling2D(name="pool")
        self.classifier = keras.layers.Dense(num_classes, activation="softmax", name="classifier")
        self.alphas_normal = self.alphas_reduce = None
        self.build((None,) + self.image_shape)

    def build(self, input_shape):
        self.stem.build(input_shape)
        s0 = s1 = tuple(self.stem.compute_output_shape(input_shape))
        for cell in self.cells:
            cell.build([s0, s1])
            s0, s1 = s1, tuple(cell.compute_output_shape([s0, s1]))
        self.classifier.build((None, s1[-1]))
        if self.genotype is None and not self.architecture_variables:
            # One weight per cell type present: an unused variable would get no gradient
            # (and TensorFlow's zero fill for it fails on Keras variables).
            shape = (num_edges(self.steps), len(PRIMITIVES))
            kinds = {cell.reduction for cell in self.cells}
            # The paper's 1e-3 * randn; one initializer each, or both draw the same values.
            if False in kinds:
                self.alphas_normal = self.add_weight(
                    shape=shape,
                    initializer=keras.initializers.RandomNormal(stddev=1e-3),
                    name="alphas_normal",
                )
            if True in kinds:
                self.alphas_reduce = self.add_weight(
                    shape=shape,
                    initializer=keras.initializers.RandomNormal(stddev=1e-3),
                    name="alphas_reduce",
                )
        self.built = True

    @property
    def architecture_variables(self):
        """`[alphas_normal, alphas_reduce]` (search network; only the cell types the
        network has), `[]` (discrete network)."""
        return [v for v in (self.alphas_normal, self.alphas_reduce) if v is not None]

    @property
    def network_variables(self):
        """Every trainable variable except the architecture weights."""
        arch = {id(v) for v in self.architecture_variables}
        return [v for v in self.trainable_variables if id(v) not in arch]

    def call(self, inputs, training=None):
        s0 = s1 = self.stem(inputs, training=training)
        alphas = {
            reduction: ops.convert_to_tensor(v)
            for reduction, v in ((False, self.alphas_normal), (True, self.alphas_reduce))
            if v is not None
        }
        for cell in self.cells:
            kwargs = {"alphas": alphas[cell.reduction]} if alphas else {}
            s0, s1 = s1, cell([s0, s1], training=training, **kwargs)
        return self.classifier(self.pool(s1))

    def derive_genotype(self):
        """The discrete genotype of the current architecture weights (`derive_genotype`)."""
        if self.genotype is not None:
            raise ValueError(
                "derive_genotype() needs a search network (built with `genotype=None`). "
                f"Received: genotype={self.genotype!r}"
            )
        # A cell type the network lacks gets uniform weights: its genes are unused.
        shape = (num_edges(self.steps), len(PRIMITIVES))
        normal, reduce = (
            np.zeros(shape) if v is None else np.asarray(ops.convert_to_numpy(v))
            for v in (self.alphas_normal, self.alphas_reduce)
        )
        return derive_genotype(normal, reduce)

    @classmethod
    def from_genotype(cls, genotype, **kwargs):
        """The discrete network of `genotype` (other arguments as in the constructor)."""
        check_genotype(genotype)
        return cls(genotype=genotype, **kwargs)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_classes": self.num_classes,
            "input_shape": list(self.image_shape),
            "channels": self.channels,
            "num_cells": self.num_cells,
            "steps": self.steps,
            "stem_multiplier": self.stem_multiplier,
            "genotype": self.genotype,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
