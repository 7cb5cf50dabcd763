"""A model whose `call` decodes exports to SavedModel and serves end to end."""

import os

import decoding_chains as _chains
import numpy as np
import pytest
import tensorflow as tf


@pytest.mark.parametrize("mode", ["beam", "greedy", "sample"])
def test_saved_model_serving_signature_decodes(tmp_path, mode):
    model = _chains.GRUDecoder(mode=mode)
    state = np.random.default_rng(2).normal(size=(3, 8)).astype("float32")
    expected = model(state)
    path = os.path.join(tmp_path, "decoder")
    model.export(path, format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(path)  # keep a reference (PITFALLS.md)
    served = loaded.serve(state)
    np.testing.assert_array_equal(served[0], expected[0])
    np.testing.assert_allclose(served[1], expected[1], rtol=1e-5, atol=1e-6)
    # The signature has a dynamic batch: another batch size decodes too.
    other = loaded.serve(state[:2])
    np.testing.assert_array_equal(other[0], expected[0][:2])


def test_onnx_export_of_beam_search(tmp_path):
    pytest.importorskip("tf2onnx")
    pytest.importorskip("onnxruntime")
    from keras_dlss.export import export_and_compare

    model = _chains.GRUDecoder(mode="beam")
    state = np.random.default_rng(3).normal(size=(3, 8)).astype("float32")
    model(state)
    path = os.path.join(tmp_path, "decoder.onnx")
    assert export_and_compare(model, path, state, format="onnx") < 1e-5
