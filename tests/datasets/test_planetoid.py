"""Planetoid .npz reader and the karate-club default graph."""

import os

import numpy as np
import pytest

from keras_dlss.datasets import karate_club, load_planetoid_npz

CORA = os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "data", "planetoid", "cora.npz"
)


def _write_tiny(path, **overrides):
    arrays = {
        "features_data": np.array([1.0, 1.0, 2.0], "float32"),
        "features_indices": np.array([0, 2, 1], "int32"),
        "features_indptr": np.array([0, 2, 3, 3], "int32"),
        "features_shape": np.array([3, 3]),
        "labels": np.array([0, 1, 1], "int32"),
        "edges": np.array([[0, 1], [1, 0], [1, 2], [2, 1]], "int32"),
        "train_index": np.array([0], "int32"),
        "val_index": np.array([1], "int32"),
        "test_index": np.array([2], "int32"),
    }
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


def test_planetoid_reader_rebuilds_the_csr_features_and_normalizes_rows(tmp_path):
    path = tmp_path / "tiny.npz"
    _write_tiny(path)
    graph = load_planetoid_npz(str(path))
    np.testing.assert_allclose(graph.features, [[0.5, 0, 0.5], [0, 1, 0], [0, 0, 0]])
    raw = load_planetoid_npz(str(path), normalize_features=False)
    np.testing.assert_allclose(raw.features[1], [0, 2, 0])
    assert graph.adjacency()[1].tolist() == [1, 0, 1]
    assert graph.class_names == ["0", "1"]


def test_planetoid_reader_errors_name_the_argument(tmp_path):
    path = tmp_path / "bad.npz"
    _write_tiny(path, edges=np.array([[0, 5]], "int32"))
    with pytest.raises(ValueError, match="`path`.*edges"):
        load_planetoid_npz(str(path))
    _write_tiny(path, labels=None)
    with pytest.raises(ValueError, match="`path`.*missing \\['labels'\\]"):
        load_planetoid_npz(str(path))
    with pytest.raises(ValueError, match="`path`"):
        load_planetoid_npz(str(tmp_path / "absent.npz"))


def test_cora_has_the_published_sizes():
    if not os.path.exists(CORA):
        pytest.skip("../shared/data/planetoid/cora.npz is not present (shared data folder)")
    cora = load_planetoid_npz(CORA)
    assert cora.features.shape == (2708, 1433) and cora.edges.shape == (10556, 2)
    assert (len(cora.train_index), len(cora.val_index), len(cora.test_index)) == (140, 500, 1000)


def test_karate_club_split_is_disjoint_and_balanced():
    club = karate_club(seed=3)
    assert club.features.shape == (34, 34) and club.edges.shape == (156, 2)
    splits = [set(club.train_index), set(club.val_index), set(club.test_index)]
    assert sum(map(len, splits)) == 34 and not (splits[0] & splits[1] or splits[0] & splits[2])
    assert np.bincount(club.labels[club.train_index]).tolist() == [4, 4]
    adjacency = club.adjacency()
    np.testing.assert_array_equal(adjacency, adjacency.T)
