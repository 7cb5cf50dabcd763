"""GraphAttention and GraphConvolution: dense == sparse, equivariance, masking, numerics."""

import keras
import numpy as np
import pytest

from keras_dlss.layers import GraphAttention, GraphConvolution
from keras_dlss.ops import graph_attention, segment_softmax
from keras_dlss.testing import run_layer_test

RNG = np.random.default_rng(0)
_np = keras.ops.convert_to_numpy
N = 7


def _random_graph(batch=2, n=N, p=0.35, pad=3):
    adjacency = (RNG.random((batch, n, n)) < p).astype("float32")
    adjacency[0, 3, :] = 0  # a node with no neighbours but itself
    pairs = [np.argwhere(a) for a in adjacency]
    edges = -np.ones((batch, max(map(len, pairs)) + pad, 2), "int32")
    for b, p_ in enumerate(pairs):
        edges[b, : len(p_)] = p_
    return adjacency, edges


ADJ, EDGES = _random_graph()
X = RNG.normal(size=(2, N, 5)).astype("float32")


def _numpy_gat(layer, x, adjacency):
    """Eq. 1-4 and 5-6 written out per head with explicit loops over neighbours."""
    w = _np(layer.kernel).reshape(x.shape[-1], layer.num_heads, layer.units)
    a_t, a_s = _np(layer.attention_target), _np(layer.attention_source)
    heads = np.zeros(x.shape[:2] + (layer.num_heads, layer.units))
    for b in range(len(x)):
        h = np.einsum("nf,fku->nku", x[b], w)
        for i in range(x.shape[1]):
            nbrs = [j for j in range(x.shape[1]) if adjacency[b, i, j] or i == j]
            for k in range(layer.num_heads):
                e = np.array([h[i, k] @ a_t[k] + h[j, k] @ a_s[k] for j in nbrs])
                e = np.where(e > 0, e, 0.2 * e)
                alpha = np.exp(e - e.max()) / np.exp(e - e.max()).sum()
                heads[b, i, k] = (alpha[:, None] * h[nbrs, k]).sum(0)
    out = heads.reshape(x.shape[:2] + (-1,)) if layer.concat_heads else heads.mean(2)
    return out + _np(layer.bias)


@pytest.mark.parametrize("concat_heads", [True, False])
def test_gat_dense_equals_sparse_equals_numpy_reference(concat_heads):
    layer = GraphAttention(3, num_heads=2, concat_heads=concat_heads, bias_initializer="ones")
    dense, sparse = _np(layer([X, ADJ])), _np(layer([X, EDGES]))
    np.testing.assert_allclose(dense, sparse, atol=1e-5)
    np.testing.assert_allclose(dense, _numpy_gat(layer, X, ADJ), atol=1e-5)


def test_gat_permutation_equivariance():
    layer = GraphAttention(4, num_heads=3)
    perm = RNG.permutation(N)
    out = _np(layer([X, ADJ]))
    permuted = _np(layer([X[:, perm], ADJ[:, perm][:, :, perm]]))
    np.testing.assert_allclose(permuted, out[:, perm], atol=1e-5)
    # The sparse path relabels edges instead: node perm[i] becomes node i.
    inverse = np.argsort(perm)
    edges = np.where(EDGES >= 0, inverse[np.maximum(EDGES, 0)], -1).astype("int32")
    np.testing.assert_allclose(_np(layer([X[:, perm], edges])), out[:, perm], atol=1e-5)


def test_a_node_never_attends_to_non_neighbours():
    """Changing a non-neighbour's features leaves the node's output unchanged; a neighbour's does not."""
    layer = GraphAttention(4, num_heads=2)
    i = 0
    non_neighbour = next(j for j in range(N) if j != i and not ADJ[0, i, j])
    neighbour = next(j for j in range(N) if j != i and ADJ[0, i, j])
    for graph in (ADJ, EDGES):
        base = _np(layer([X, graph]))
        x = X.copy()
        x[0, non_neighbour] += 10.0
        np.testing.assert_allclose(_np(layer([x, graph]))[0, i], base[0, i], atol=1e-5)
        x = X.copy()
        x[0, neighbour] += 10.0
        assert np.abs(_np(layer([x, graph]))[0, i] - base[0, i]).max() > 1e-3


@pytest.mark.parametrize("self_loops", ["add", "remove", "keep"])
def test_self_loop_policies_agree_across_paths(self_loops):
    adjacency = ADJ.copy()
    adjacency[:, 1, 1] = 1.0  # an explicit self-edge: "add" must not count it twice
    pairs = [np.argwhere(a) for a in adjacency]
    edges = -np.ones((2, max(map(len, pairs)), 2), "int32")
    for b, p_ in enumerate(pairs):
        edges[b, : len(p_)] = p_
    for layer in (
        GraphAttention(3, num_heads=2, self_loops=self_loops),
        GraphConvolution(3, self_loops=self_loops),
    ):
        dense, sparse = _np(layer([X, adjacency])), _np(layer([X, edges]))
        assert np.isfinite(dense).all()
        np.testing.assert_allclose(dense, sparse, atol=1e-5)


def test_gcn_against_the_normalized_adjacency_formula():
    layer = GraphConvolution(4, activation="relu", bias_initializer="ones")
    out = _np(layer([X, ADJ]))
    a_hat = ADJ + np.eye(N)
    a_hat = np.minimum(a_hat, 1.0)
    d = a_hat.sum(-1)
    norm = a_hat / np.sqrt(d[:, :, None] * d[:, None, :])
    expected = np.maximum(norm @ X @ _np(layer.kernel) + _np(layer.bias), 0)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    np.testing.assert_allclose(_np(layer([X, EDGES])), expected, atol=1e-5)
    wide = GraphConvolution(9)  # units > features: propagation runs before the projection
    np.testing.assert_allclose(_np(wide([X, EDGES])), _np(wide([X, ADJ])), atol=1e-5)


def test_segment_softmax_against_numpy():
    logits = RNG.normal(size=(9, 2)).astype("float32")
    ids = np.array([2, 0, 2, 1, 0, 2, 1, 1, 0])
    mask = np.array([1, 1, 1, 1, 0, 1, 1, 1, 1], bool)
    got = _np(segment_softmax(logits, ids, 4, mask=mask))
    for s in range(3):
        rows = (ids == s) & mask
        e = np.exp(logits[rows] - logits[rows].max(0))
        np.testing.assert_allclose(got[rows], e / e.sum(0), atol=1e-6)
    assert (got[~mask] == 0).all()


def test_attention_dropout_reaches_the_coefficients():
    layer = GraphAttention(3, num_heads=2, attention_dropout=0.5, seed=1)
    eval_out = _np(layer([X, EDGES], training=False))
    np.testing.assert_allclose(eval_out, _np(layer([X, ADJ], training=False)), atol=1e-5)
    assert np.abs(_np(layer([X, EDGES], training=True)) - eval_out).max() > 1e-3


def test_edge_index_out_of_range_and_bad_policy_raise():
    layer = GraphAttention(2)
    bad = EDGES.copy()
    bad[0, 0, 1] = N
    with pytest.raises(ValueError, match=r"`edges`.*Received: edges containing 7"):
        layer([X, bad])
    with pytest.raises(ValueError, match="`self_loops`.*Received: self_loops='twice'"):
        GraphAttention(2, self_loops="twice")
    with pytest.raises(ValueError, match="`adjacency`"):
        GraphConvolution(2)([X, ADJ[:, :, :-1]])
    with pytest.raises(ValueError, match="`edges`"):
        graph_attention(
            np.zeros((1, 3, 1, 2)),
            np.zeros((1, 3, 1)),
            np.zeros((1, 3, 1)),
            np.zeros((1, 2, 3), "int32"),
        )


def test_graph_attention_conformance():
    print(
        run_layer_test(
            GraphAttention,
            {"units": 2, "num_heads": 2, "dropout": 0.1, "attention_dropout": 0.1},
            [X[:1, :5], EDGES[:1, :4].clip(-1, 4)],
            expected_output_shape=(1, 5, 4),
        )
    )


def test_graph_convolution_conformance():
    print(
        run_layer_test(
            GraphConvolution,
            {"units": 3, "dropout": 0.1},
            [X[:1, :5], ADJ[:1, :5, :5]],
            expected_output_shape=(1, 5, 3),
        )
    )
