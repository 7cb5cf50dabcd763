"""`keras-dlss train gat`: GAT or GCN node classification on one graph.

The embedded default is Zachary's karate club from networkx (34 nodes, two
clubs, 4 labelled members per club); `--data cora.npz` trains on a Planetoid
graph in the layout of `keras_dlss.datasets.load_planetoid_npz` with its standard
split. The whole graph is one example: every epoch is one full-batch step, and
the splits differ only in which nodes' sample weights are nonzero. A CLI epoch is
`STEPS_PER_EPOCH` full-batch optimizer steps on that one example (a `PyDataset` that
repeats it, no copies): for a small graph Keras' per-epoch work (callbacks,
validation) costs more than a step, and early stopping on every step would be noise.
"""

from keras_dlss.applications.base import Task, TaskData

STEPS_PER_EPOCH = 10


class GATTask(Task):
    name = "gat"
    summary = "GAT / GCN node classification (graph attention; --model gcn for the GCN baseline)"
    default_data = "Zachary's karate club, bundled with networkx (34 nodes; no download)"
    data_license = "public domain (Zachary 1977; networkx BSD-3-Clause)"
    default_epochs = 30  # x STEPS_PER_EPOCH optimizer steps
    default_batch_size = 1
    monitor = "val_loss"
    patience = 10  # 100 steps, the GAT paper's patience
    options = {
        "model": {"choices": ["gat", "gcn"], "help": "graph attention (default) or convolution"},
        "graph": {"choices": ["sparse", "dense"], "help": "edge-list (default) or adjacency input"},
        "hidden-units": {"type": int, "dest": "hidden_units", "help": "features per hidden head"},
        "heads": {"type": int, "dest": "num_heads", "help": "GAT hidden heads (default 8)"},
    }

    def load_data(self, path=None, seed=0, graph="sparse"):
        from keras_dlss.applications.gat import node_classification_inputs
        from keras_dlss.datasets.planetoid import karate_club, load_planetoid_npz

        data = karate_club(seed=seed) if path is None else load_planetoid_npz(path)
        splits = {}
        for split, index in (
            ("train", data.train_index),
            ("validation", data.val_index),
            ("test", data.test_index),
        ):
            splits[split] = node_classification_inputs(data, index, graph)
        info = {
            "source": data.source,
            "classes": data.class_names,
            "num_nodes": data.num_nodes,
            "num_features": int(data.features.shape[1]),
            "num_edges": int(len(data.edges)),
            "graph": graph,
        }
        return TaskData(splits["train"], splits["validation"], splits["test"], info)

    def build_model(self, data, *, jit_compile=True, seed=0, **hparams):
        from keras_dlss.applications.gat import GAT, GCN

        kind = hparams.pop("model", "gat")
        graph = hparams.pop("graph", data.info["graph"])
        if graph != data.info["graph"]:
            _convert_graph(data, graph)
        if kind == "gcn":
            hparams.pop("num_heads", None)
        cls = GAT if kind == "gat" else GCN
        model = cls(
            data.info["num_features"], len(data.info["classes"]), graph=graph, seed=seed, **hparams
        )
        model.compile(jit_compile="auto" if jit_compile else False)
        return model

    def fit(self, model, data, *, epochs, batch_size, callbacks, verbose=1):
        return model.fit(
            _RepeatedGraph(data.train, STEPS_PER_EPOCH),
            validation_data=data.validation,
            epochs=epochs,
            callbacks=callbacks,
            verbose=verbose,
        )

    def evaluate(self, model, data):
        x, y, weights = data.test
        values = model.evaluate(x, y, sample_weight=weights, verbose=0, return_dict=True)
        return {f"test_{k}": float(v) for k, v in values.items()}


def _convert_graph(data, graph):
    """Switches every split's graph input between edge list and adjacency, in place.

    The CLI loads data before it knows the model's options, so `--graph dense`
    converts the loaded edge list here rather than reloading.
    """
    import numpy as np

    for split in (data.train, data.validation, data.test):
        structure = split[0][1][0]
        if graph == "dense":
            n = data.info["num_nodes"]
            adjacency = np.zeros((n, n), "float32")
            adjacency[structure[:, 0], structure[:, 1]] = 1.0
            split[0][1] = adjacency[None]
        else:
            split[0][1] = np.argwhere(structure > 0).astype("int32")[None]
    data.info["graph"] = graph


def _repeated_graph_class():
    import keras

    class RepeatedGraph(keras.utils.PyDataset):
        """The one-graph split `(x, y, sample_weight)`, `steps` times per epoch."""

        def __init__(self, split, steps):
            super().__init__()
            self.split, self.steps = tuple(split), steps

        def __len__(self):
            return self.steps

        def __getitem__(self, index):
            x, y, weights = self.split
            return tuple(x), y, weights

    return RepeatedGraph


def _RepeatedGraph(split, steps):  # noqa: N802 (a class, built lazily: `keras-dlss list` stays light)
    return _repeated_graph_class()(split, steps)
