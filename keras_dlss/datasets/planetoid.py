"""Node-classification graphs: the Planetoid citation graphs and Zachary's karate club.

`load_planetoid_npz` reads the `.npz` layout of `../shared/data/planetoid/cora.npz`
(features as CSR arrays, labels, an edge list and the standard split of Yang et al.
2016: 20 labelled nodes per class, 500 validation, 1,000 test), with no pickle.
`karate_club` is the embedded default: networkx's bundled copy of Zachary's 1977
karate-club network (34 members, 78 friendships, public domain), labelled by the club
each member joined after the split, with one-hot node identities as features (as in
Kipf & Welling's karate-club demonstration).
"""

import dataclasses

import numpy as np


@dataclasses.dataclass
class GraphData:
    """One graph for transductive node classification.

    Attributes:
        features: `[N, F]` float32 node features.
        edges: `[E, 2]` int32 `(i, j)` pairs, node i receives from node j (both
            directions listed for an undirected graph).
        labels: `[N]` int32 class ids.
        train_index, val_index, test_index: int32 node ids of each split.
        class_names: list of str.
        source: where the graph came from.
    """

    features: np.ndarray
    edges: np.ndarray
    labels: np.ndarray
    train_index: np.ndarray
    val_index: np.ndarray
    test_index: np.ndarray
    class_names: list
    source: str = ""

    @property
    def num_nodes(self):
        return int(self.features.shape[0])

    def adjacency(self):
        """Dense `[N, N]` float32 adjacency of `edges`."""
        a = np.zeros((self.num_nodes, self.num_nodes), "float32")
        a[self.edges[:, 0], self.edges[:, 1]] = 1.0
        return a


_PLANETOID_KEYS = (
    "features_data",
    "features_indices",
    "features_indptr",
    "features_shape",
    "labels",
    "edges",
    "train_index",
    "val_index",
    "test_index",
)


def load_planetoid_npz(path, normalize_features=True):
    """Reads a Planetoid citation graph (Cora, CiteSeer, PubMed) from an `.npz` file.

    Args:
        path: str. An `.npz` with `features_data`, `features_indices`,
            `features_indptr`, `features_shape` (a CSR matrix), `labels` [N],
            `edges` [E, 2], `train_index`, `val_index`, `test_index`.
        normalize_features: bool. Divide each row by its sum, as GCN and GAT do.
            Defaults to `True`.

    Returns:
        A `GraphData`.

    Example:

    ```python
    import os
    from keras_dlss.datasets import load_planetoid_npz

    path = "../shared/data/planetoid/cora.npz"
    if os.path.exists(path):
        cora = load_planetoid_npz(path)   # 2,708 nodes, 1,433 features, 7 classes
    ```

    References:
        Yang, Cohen & Salakhutdinov 2016, "Revisiting Semi-Supervised Learning
        with Graph Embeddings", https://arxiv.org/abs/1603.08861
    """
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in _PLANETOID_KEYS if k not in f.files]
            if missing:
                raise ValueError(
                    f"Argument `path` must be a Planetoid .npz with {', '.join(_PLANETOID_KEYS)}; "
                    f"missing {missing}. Received: path={str(path)!r}"
                )
            arrays = {k: f[k] for k in _PLANETOID_KEYS}
    except OSError as e:
        raise ValueError(
            f"Argument `path` could not be read: {e}. Received: path={str(path)!r}"
        ) from None
    rows, cols = (int(d) for d in arrays["features_shape"])
    indptr, indices = arrays["features_indptr"], arrays["features_indices"]
    features = np.zeros((rows, cols), "float32")
    row_ids = np.repeat(np.arange(rows), np.diff(indptr))
    features[row_ids, indices] = arrays["features_data"]
    edges = arrays["edges"].astype("int32")
    if edges.ndim != 2 or edges.shape[1] != 2 or edges.min() < 0 or edges.max() >= rows:
        raise ValueError(
            f"Argument `path` holds `edges` that are not [E, 2] node ids in [0, {rows}). "
            f"Received: edges.shape={edges.shape}"
        )
    if normalize_features:
        features = _row_normalize(features)
    labels = arrays["labels"].astype("int32")
    return GraphData(
        features,
        edges,
        labels,
        arrays["train_index"].astype("int32"),
        arrays["val_index"].astype("int32"),
        arrays["test_index"].astype("int32"),
        [str(c) for c in range(int(labels.max()) + 1)],
        str(path),
    )


def karate_club(train_per_class=4, val_per_class=4, seed=0):
    """Zachary's karate club from networkx, split for node classification.

    Args:
        train_per_class: int. Labelled nodes per club. Defaults to `4`.
        val_per_class: int. Validation nodes per club. Defaults to `4`.
        seed: int. Seed of the split.

    Returns:
        A `GraphData` with 34 nodes, one-hot identity features, 156 directed
        edges and classes `["Mr. Hi", "Officer"]`.

    Example:

    ```python
    from keras_dlss.datasets import karate_club

    club = karate_club()
    print(club.features.shape, club.edges.shape, len(club.train_index))
    ```

    References:
        Zachary 1977, "An Information Flow Model for Conflict and Fission in
        Small Groups", J. Anthropological Research 33(4).
    """
    import networkx as nx

    graph = nx.karate_club_graph()
    n = graph.number_of_nodes()
    class_names = ["Mr. Hi", "Officer"]
    labels = np.array([class_names.index(graph.nodes[i]["club"]) for i in range(n)], "int32")
    pairs = np.array(list(graph.edges()), "int32")
    edges = np.concatenate([pairs, pairs[:, ::-1]])
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in range(2):
        members = rng.permutation(np.flatnonzero(labels == c))
        train += list(members[:train_per_class])
        val += list(members[train_per_class : train_per_class + val_per_class])
    test = sorted(set(range(n)) - set(train) - set(val))
    as_ids = lambda ids: np.array(sorted(ids), "int32")  # noqa: E731
    return GraphData(
        np.eye(n, dtype="float32"),
        edges,
        labels,
        as_ids(train),
        as_ids(val),
        as_ids(test),
        class_names,
        "networkx karate_club_graph (Zachary 1977)",
    )


def _row_normalize(features):
    total = features.sum(axis=1, keepdims=True)
    return np.where(total > 0, features / np.maximum(total, 1e-12), 0.0).astype("float32")
