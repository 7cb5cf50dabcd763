"""`HoistedLSTM` (private): same outputs and gradients as `keras.layers.LSTM`."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.debugging import gradient_check
from keras_dlss.layers._hoisted_lstm import HoistedLSTM, hoisted_lstm

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the gradient tape below is TensorFlow's"
)


def _pair(units=5, **kwargs):
    ref = keras.layers.LSTM(units, return_sequences=True, return_state=True, **kwargs)
    fast = HoistedLSTM(units, return_sequences=True, return_state=True, **kwargs)
    ref.build((None, None, 3))
    fast.build((None, None, 3))
    rng = np.random.default_rng(0)
    for v in ref.weights:  # nonzero bias, so its gradient is tested too
        v.assign(rng.normal(size=v.shape).astype("float32") * 0.5)
    fast.set_weights(ref.get_weights())
    return ref, fast


def _outputs_and_grads(layer, x, state, jit):
    import tensorflow as tf

    @tf.function(jit_compile=jit)
    def run(x, h0, c0):
        with tf.GradientTape() as tape:
            tape.watch([x, h0, c0])
            seq, h, c = layer(x, initial_state=[h0, c0], training=True)
            # every output reaches the loss, so the final-state gradients are checked
            loss = ops.sum(ops.sin(seq)) + ops.sum(h * 0.3) + ops.sum(ops.cos(c))
        return [seq, h, c], tape.gradient(loss, [x, h0, c0, *layer.trainable_variables])

    return run(x, *state)


@pytest.mark.parametrize("jit", [False, True])
def test_matches_keras_lstm_outputs_and_gradients(jit):
    ref, fast = _pair()
    rng = np.random.default_rng(1)
    x = ops.convert_to_tensor(rng.normal(size=(2, 4, 3)).astype("float32"))
    state = [ops.convert_to_tensor(rng.normal(size=(2, 5)).astype("float32")) for _ in "hc"]
    for want, got in zip(*(_outputs_and_grads(m, x, state, jit) for m in (ref, fast))):
        for a, b in zip(want, got):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-5)


def test_functional_core_passes_float64_gradient_check():
    rng = np.random.default_rng(2)
    args = [rng.normal(size=s) * 0.5 for s in ((2, 3, 2), (2, 8), (2, 8), (8,), (2, 2), (2, 2))]

    def fn(x, kernel, recurrent_kernel, bias, h0, c0):
        outputs, h, c = hoisted_lstm(x, kernel, recurrent_kernel, bias, h0, c0)
        return ops.concatenate([ops.reshape(outputs, (-1,)), ops.reshape(c, (-1,))], axis=0)

    assert gradient_check(fn, tuple(args), fast_mode=True).passed


def test_falls_back_to_keras_loop_with_a_mask_and_outside_training():
    ref, fast = _pair(units=4)
    x = np.random.default_rng(3).normal(size=(2, 4, 3)).astype("float32")
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
    for kwargs in ({"mask": mask, "training": True}, {"training": False}):
        for a, b in zip(ref(x, **kwargs), fast(x, **kwargs)):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-6, atol=1e-6)
