"""GAT / GCN node classifiers and the `gat` task: masked full-batch training, save/load, paths."""

import keras
import numpy as np
import pytest

from keras_dlss.applications import GAT, GCN, node_classification_inputs
from keras_dlss.applications.registry import get_task
from keras_dlss.datasets import karate_club

CLUB = karate_club()


@pytest.mark.parametrize("cls", [GAT, GCN])
def test_node_classifier_learns_the_clubs_and_reloads(cls, tmp_path):
    keras.utils.set_random_seed(0)
    x, y, weights = node_classification_inputs(CLUB, CLUB.train_index)
    kwargs = {"num_heads": 2} if cls is GAT else {}
    model = cls(34, 2, hidden_units=8, dropout=0.0, seed=0, **kwargs)
    # No XLA here: its compilation costs more than the whole test (the layer tests cover XLA).
    model.compile(jit_compile=False)
    # 40 full-batch steps as one epoch of 40 copies of the graph: Keras' per-epoch overhead
    # would otherwise dominate a 34-node graph.
    copies = keras.tree.map_structure(lambda a: np.repeat(a, 40, axis=0), (x, y, weights))
    model.fit(*copies[:2], sample_weight=copies[2], batch_size=1, epochs=1, verbose=0)
    predictions = model.predict(x, verbose=0)
    accuracy = (predictions[0].argmax(-1) == CLUB.labels)[CLUB.test_index].mean()
    assert accuracy >= 0.75, accuracy
    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), predictions, atol=1e-6)
    # The same weights on the adjacency input give the same predictions.
    dense = cls.from_config({**model.get_config(), "graph": "dense"})
    dense.set_weights(model.get_weights())
    x_dense = node_classification_inputs(CLUB, CLUB.train_index, graph="dense")[0]
    np.testing.assert_allclose(dense.predict(x_dense, verbose=0), predictions, atol=1e-5)


def test_sample_weights_average_one_over_the_labelled_nodes():
    _, y, weights = node_classification_inputs(CLUB, CLUB.train_index)
    assert weights.shape == (1, 34) and y.shape == (1, 34)
    np.testing.assert_allclose(weights.sum() / 34, 1.0)
    assert (weights[0, CLUB.test_index] == 0).all()
    with pytest.raises(ValueError, match="`index`"):
        node_classification_inputs(CLUB, [40])
    with pytest.raises(ValueError, match="`graph`"):
        GAT(34, 2, graph="csr")


def test_gat_task_switches_to_the_dense_graph():
    task = get_task("gat")
    data = task.load_data(seed=0)
    model = task.build_model(data, jit_compile=False, model="gcn", graph="dense", hidden_units=4)
    assert data.train[0][1].shape == (1, 34, 34) and data.info["graph"] == "dense"
    assert model.predict(data.test[0], verbose=0).shape == (1, 34, 2)


def test_preset_compile_uses_xla_on_jax_only_and_config_round_trips():
    # On TensorFlow's CPU, XLA makes the input dropout ~80x slower than the whole step.
    model = GAT(34, 2, hidden_units=2, num_heads=1, seed=3)
    model.compile()
    assert model.jit_compile == (keras.backend.backend() == "jax")
    config = model.get_config()
    assert config["seed"] == 3 and config["num_heads"] == 1 and config["graph"] == "sparse"
    assert GCN.from_config(GCN(34, 2, hidden_units=3).get_config()).hidden_units == 3
