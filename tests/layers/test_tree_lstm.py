"""Tree-LSTMs vs a recursive NumPy reference (Tai et al. 2015), conformance, bad trees."""

import keras
import numpy as np
import pytest

from keras_dlss.layers import ChildSumTreeLSTM, NaryTreeLSTM
from keras_dlss.testing import run_layer_test

X = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
HEADS = np.array([[2, 0, 2, 3, 3], [0, 1, 1, 1, 4], [3, 3, 0, 3, 0]], "int32")
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 1, 1, 0]], bool)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _children(heads, j):
    return [k for k, h in enumerate(heads) if h == j + 1]


def child_sum_reference(layer, x, heads):
    w, uw, b = (keras.ops.convert_to_numpy(v).astype("float64") for v in layer.weights)
    u = layer.units
    out = {}

    def node(j):
        kids = [node(k) + (k,) for k in _children(heads, j)]
        h_sum = sum((h for h, _, _ in kids), np.zeros(u))
        z = x[j] @ w + b
        i = _sigmoid(z[:u] + h_sum @ uw[:, :u])
        o = _sigmoid(z[u : 2 * u] + h_sum @ uw[:, u : 2 * u])
        g = np.tanh(z[2 * u : 3 * u] + h_sum @ uw[:, 2 * u : 3 * u])
        c = i * g
        for h_k, c_k, _ in kids:
            c = c + _sigmoid(z[3 * u :] + h_k @ uw[:, 3 * u :]) * c_k
        out[j] = o * np.tanh(c)
        return out[j], c

    for root in [j for j, h in enumerate(heads) if h == 0]:
        node(root)
    return np.stack([out[j] for j in range(len(heads))])


def nary_reference(layer, x, heads):
    w, uw, b = (keras.ops.convert_to_numpy(v).astype("float64") for v in layer.weights)
    u, n = layer.units, layer.num_children
    out = {}

    def node(j):
        h_slots, c_slots = np.zeros((n, u)), np.zeros((n, u))
        for rank, k in enumerate(_children(heads, j)):
            h_k, c_k = node(k)
            h_slots[min(rank, n - 1)] += h_k
            c_slots[min(rank, n - 1)] += c_k
        z = x[j] @ w + b + h_slots.reshape(-1) @ uw
        i, o, g = _sigmoid(z[:u]), _sigmoid(z[u : 2 * u]), np.tanh(z[2 * u : 3 * u])
        f = _sigmoid(z[3 * u :]).reshape(n, u)
        c = i * g + (f * c_slots).sum(0)
        out[j] = o * np.tanh(c)
        return out[j], c

    for root in [j for j, h in enumerate(heads) if h == 0]:
        node(root)
    return np.stack([out[j] for j in range(len(heads))])


@pytest.mark.parametrize(
    "layer, reference",
    [(ChildSumTreeLSTM(6), child_sum_reference), (NaryTreeLSTM(6, 2), nary_reference)],
    ids=["child_sum", "nary"],
)
def test_matches_recursive_reference(layer, reference):
    # Two full trees and one padded tree (its 5th token is padding).
    got = keras.ops.convert_to_numpy(layer(X, HEADS, mask=MASK))
    for b in range(3):
        n = int(MASK[b].sum())
        expected = reference(layer, X[b, :n].astype("float64"), HEADS[b, :n])
        np.testing.assert_allclose(got[b, :n], expected, atol=1e-5)
        assert not got[b, n:].any()


def test_return_root_is_the_root_state():
    layer = ChildSumTreeLSTM(3)
    nodes = keras.ops.convert_to_numpy(layer(X[:2], HEADS[:2]))
    layer.return_root = True
    roots = keras.ops.convert_to_numpy(layer(X[:2], HEADS[:2]))
    np.testing.assert_allclose(roots, nodes[[0, 1], [1, 0]], atol=1e-6)


@pytest.mark.parametrize(
    "cls, kwargs",
    [(ChildSumTreeLSTM, {"units": 3}), (NaryTreeLSTM, {"units": 3, "num_children": 3})],
)
def test_conformance(cls, kwargs):
    print(
        run_layer_test(
            cls,
            kwargs,
            X[:2, :4],
            call_kwargs={"heads": HEADS[:2, :4] * 0 + np.array([[2, 0, 2, 3], [0, 1, 1, 1]])},
            expected_output_shape=(2, 4, 3),
            check_masking=False,
        )
    )
