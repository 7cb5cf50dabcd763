"""EdgeConv and its k-NN graph ops, the T-Net layer and the orthogonality regularizer."""

import keras
import numpy as np
import pytest

from keras_dlss.layers import EdgeConv, TNet
from keras_dlss.ops import gather_neighbors, knn_indices
from keras_dlss.regularizers import OrthogonalityRegularizer
from keras_dlss.testing import run_layer_test

RNG = np.random.default_rng(0)
_np = keras.ops.convert_to_numpy
POINTS = RNG.normal(size=(2, 12, 3)).astype("float32")


def _brute_force_knn(points, k):
    distance = ((points[:, :, None, :] - points[:, None, :, :]) ** 2).sum(-1)
    return np.argsort(distance, axis=-1, kind="stable")[..., :k]


def test_knn_against_brute_force():
    features = RNG.normal(size=(3, 20, 5)).astype("float32")  # distinct distances: no ties
    np.testing.assert_array_equal(_np(knn_indices(features, 6)), _brute_force_knn(features, 6))
    neighbours = _np(gather_neighbors(features, _brute_force_knn(features, 6)))
    expected = features[np.arange(3)[:, None, None], _brute_force_knn(features, 6)]
    np.testing.assert_array_equal(neighbours, expected)


def _naive_edge_conv(layer, x):
    """Eq. 7-8 as written: h([x_i, x_j - x_i]) on [B, N, k, 2C], then max over j."""
    idx = _brute_force_knn(x, layer.k)
    xi = np.repeat(x[:, :, None], layer.k, axis=2)
    xj = x[np.arange(len(x))[:, None, None], idx]
    h = np.concatenate([xi, xj - xi], -1) @ _np(layer.kernel) + _np(layer.bias)
    return np.where(h > 0, h, 0.2 * h).max(axis=2)


def test_edge_conv_matches_the_naive_form_and_is_permutation_equivariant():
    layer = EdgeConv(5, k=4, normalization="none")
    out = _np(layer(POINTS))
    np.testing.assert_allclose(out, _naive_edge_conv(layer, POINTS), atol=1e-5)
    perm = RNG.permutation(POINTS.shape[1])
    np.testing.assert_allclose(_np(layer(POINTS[:, perm])), out[:, perm], atol=1e-5)
    # The graph is dynamic: a second EdgeConv finds neighbours in the first one's feature space.
    second = EdgeConv(3, k=4, normalization="none")
    np.testing.assert_allclose(_np(second(out)), _naive_edge_conv(second, out), atol=1e-5)


def test_edge_conv_conformance():
    print(
        run_layer_test(
            EdgeConv, {"units": 4, "k": 3}, POINTS[:, :8], expected_output_shape=(2, 8, 4)
        )
    )


def test_tnet_conformance_identity_start_and_loss():
    kwargs = {
        "point_units": [4, 8],
        "dense_units": [4],
        "normalization": "none",
        "transform_regularizer": OrthogonalityRegularizer(0.5),
    }
    print(run_layer_test(TNet, kwargs, POINTS[:, :6], expected_output_shape=(2, 6, 3)))
    layer = TNet(**kwargs)
    np.testing.assert_allclose(_np(layer(POINTS)), POINTS, atol=1e-6)
    assert len(layer.losses) == 1 and float(layer.losses[0]) == 0.0  # identity is orthogonal
    perm = RNG.permutation(12)
    layer.transform.bias.assign(RNG.normal(size=9).astype("float32"))
    layer.transform.kernel.assign(RNG.normal(size=(4, 9)).astype("float32"))
    np.testing.assert_allclose(_np(layer(POINTS[:, perm])), _np(layer(POINTS))[:, perm], atol=1e-5)


def test_orthogonality_regularizer_value_and_serialization():
    mats = RNG.normal(size=(4, 3, 3)).astype("float32")
    expected = 0.1 * np.mean([np.sum((np.eye(3) - m @ m.T) ** 2) for m in mats])
    reg = OrthogonalityRegularizer(0.1)
    np.testing.assert_allclose(float(reg(mats)), expected, rtol=1e-5)
    q, _ = np.linalg.qr(mats[0])
    assert abs(float(reg(q[None]))) < 1e-10 + 1e-6
    restored = keras.regularizers.deserialize(keras.regularizers.serialize(reg))
    assert isinstance(restored, OrthogonalityRegularizer) and restored.weight == 0.1
    with pytest.raises(ValueError, match="`weight`.*Received"):
        OrthogonalityRegularizer(-1.0)
    with pytest.raises(ValueError, match="`matrices`.*Received"):
        reg(np.zeros((2, 3, 4)))


def test_k_must_be_smaller_than_the_number_of_points():
    with pytest.raises(
        ValueError, match="`k` must be smaller than the number of points \\(8\\).*Received: k=8"
    ):
        EdgeConv(4, k=8)(POINTS[:, :8])
    with pytest.raises(ValueError, match="`k`.*Received: k=12"):
        knn_indices(POINTS, 12)
