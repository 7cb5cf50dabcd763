"""Export parity helpers: inputs are matched to the artifact's signature by name."""

import keras
import numpy as np

from keras_dlss.export import export_and_compare, max_abs_difference


def _dict_model():
    # Keys deliberately out of alphabetical order, with different shapes per input.
    words = keras.Input((None,), dtype="int32", name="words")
    chars = keras.Input((None, 3), dtype="int32", name="chars")
    w = keras.layers.Embedding(10, 4)(words)
    c = keras.ops.sum(keras.layers.Embedding(10, 4)(chars), axis=2)
    return keras.Model({"words": words, "chars": chars}, keras.layers.Dense(2)(w + c))


def test_dict_input_model_exports_with_parity(tmp_path):
    model = _dict_model()
    rng = np.random.default_rng(0)
    sample = {"words": rng.integers(0, 10, (2, 5)).astype("int32"),
              "chars": rng.integers(0, 10, (2, 5, 3)).astype("int32")}
    assert export_and_compare(model, str(tmp_path / "sm"), sample, format="tf_saved_model") < 1e-5
    assert export_and_compare(model, str(tmp_path / "m.onnx"), sample, format="onnx") < 1e-5


def test_max_abs_difference_flags_shape_mismatch():
    assert max_abs_difference(np.zeros((2, 3)), np.zeros((2, 3))) == 0.0
    assert max_abs_difference(np.zeros((2, 3)), np.ones((2, 3))) == 1.0
    assert max_abs_difference(np.zeros((2, 3)), np.zeros((3, 2))) == float("inf")
