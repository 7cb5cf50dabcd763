"""The LSTM options our cells share: the forget-gate block gets +1, and nothing else does."""

import keras
import numpy as np
import pytest

from keras_dlss.layers import (
    GatedFeedbackLSTMCell,
    HierarchicalMultiscaleLSTMCell,
    MultiplicativeLSTMCell,
)

U = 3


@pytest.mark.parametrize(
    "cell_class, forget_start",
    [(GatedFeedbackLSTMCell, U), (HierarchicalMultiscaleLSTMCell, 0), (MultiplicativeLSTMCell, U)],
)
@pytest.mark.parametrize("unit_forget_bias", [True, False])
def test_forget_bias_lands_on_the_forget_block_only(cell_class, forget_start, unit_forget_bias):
    cell = cell_class(U, unit_forget_bias=unit_forget_bias, bias_initializer="zeros")
    cell.build((None, 2))
    biases = [w for w in cell.weights if "bias" in w.path]
    assert biases
    for bias in biases:
        want = np.zeros(bias.shape)
        if unit_forget_bias:
            want[forget_start : forget_start + U] = 1.0
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(bias), want)
    config = cell.get_config()
    assert config["unit_forget_bias"] is unit_forget_bias
    assert cell_class.from_config(config).get_config() == config
