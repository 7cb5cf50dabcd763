"""`models._backends` gradient plumbing edge cases (TensorFlow, in process)."""

import keras
import numpy as np
from keras import ops

from keras_dlss.models._backends import _tensorflow_gradients


def test_a_variable_the_loss_does_not_use_gets_a_zero_gradient():
    used = keras.Variable(np.ones(3, "float32"))
    unused = keras.Variable(np.ones(2, "float32"))
    (loss,), _, (grads,) = _tensorflow_gradients(
        lambda: (ops.sum(used * 2.0), None), lambda: [[used, unused]], []
    )
    np.testing.assert_allclose(ops.convert_to_numpy(loss), 6.0)
    np.testing.assert_allclose(ops.convert_to_numpy(grads[0]), [2.0, 2.0, 2.0])
    np.testing.assert_allclose(ops.convert_to_numpy(grads[1]), [0.0, 0.0])
