import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_dlss.debugging import gradient_check
from keras_dlss.layers import FixedPointLayer
from keras_dlss.testing import run_layer_test


@keras.saving.register_keras_serializable(package="keras_dlss_tests")
class TanhCell(keras.layers.Layer):
    """z' = tanh(z W + x U + b) with a small W: a contraction in z."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        _, x_shape = input_shape
        init = keras.initializers.RandomNormal(stddev=0.3 / np.sqrt(self.units), seed=1)
        self.w = self.add_weight(shape=(self.units, self.units), name="w", initializer=init)
        self.u = self.add_weight(shape=(x_shape[-1], self.units), name="u")
        self.b = self.add_weight(shape=(self.units,), name="b", initializer="ones")

    def call(self, inputs):
        z, x = inputs
        return ops.tanh(ops.matmul(z, self.w) + ops.matmul(x, self.u) + self.b)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _x(batch=3, features=4):
    return np.random.default_rng(0).standard_normal((batch, features)).astype("float32")


def _unrolled(layer, x, steps=100):
    z = tf.zeros((x.shape[0], *layer.state_shape))
    for _ in range(steps):
        z = layer.function([z, x])
    return z


@pytest.mark.parametrize("anderson_memory", [0, 4])
def test_output_is_the_fixed_point(anderson_memory):
    layer = FixedPointLayer(
        TanhCell(5), state_shape=(5,), anderson_memory=anderson_memory, tolerance=1e-6
    )
    x = _x()
    z = layer(x)
    assert tuple(z.shape) == (3, 5)
    np.testing.assert_allclose(ops.convert_to_numpy(layer.function([z, x])), z, atol=1e-5)
    np.testing.assert_allclose(z, _unrolled(layer, x), atol=1e-5)


@pytest.mark.parametrize("anderson_memory", [0, 4])
def test_gradients_match_unrolled_differentiation(anderson_memory):
    layer = FixedPointLayer(
        TanhCell(5), state_shape=(5,), anderson_memory=anderson_memory, tolerance=1e-7
    )
    x = tf.constant(_x())
    layer(x)
    weights = layer.trainable_variables
    grads = []
    for forward in (layer, lambda x: _unrolled(layer, x)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.sin(forward(x)))
        grads.append(tape.gradient(loss, [x, *weights]))
    for implicit, unrolled in zip(*grads):
        np.testing.assert_allclose(implicit, unrolled, atol=2e-5)


def test_passes_full_gradient_check():
    # tolerance=0 runs every iteration, so the output is a smooth function of the inputs.
    layer = FixedPointLayer(TanhCell(4), state_shape=(4,), tolerance=0.0, max_iterations=30)
    report = gradient_check(layer, _x(2, 3))
    assert report.passed and len(report.results) == 4


def test_state_defaults_to_input_shape_and_fit_reduces_loss():
    layer = FixedPointLayer(TanhCell(4), anderson_memory=3)
    model = keras.Sequential([keras.Input((4,)), layer, keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", jit_compile=True)
    x = _x(16, 4)
    y = np.sum(x, axis=1, keepdims=True)
    history = model.fit(x, y, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_conformance():
    run_layer_test(
        FixedPointLayer,
        {
            "function": TanhCell(4),
            "state_shape": (4,),
            "max_iterations": 30,
            "tolerance": 0.0,
            "anderson_memory": 3,
        },
        _x(2, 3),
        expected_output_shape=(2, 4),
        check_masking=False,  # no sequence axis: FixedPointLayer does not support masking
    )


def test_savedmodel_export(tmp_path):
    layer = FixedPointLayer(TanhCell(4), state_shape=(4,), anderson_memory=3)
    model = keras.Sequential([keras.Input((3,)), layer])
    x = _x(2, 3)
    model.export(str(tmp_path / "sm"), format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    np.testing.assert_allclose(loaded.serve(tf.constant(x)).numpy(), model(x), atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="Received: max_iterations=0"):
        FixedPointLayer(TanhCell(2), max_iterations=0)
    with pytest.raises(ValueError, match="Received: damping=0"):
        FixedPointLayer(TanhCell(2), damping=0)
    with pytest.raises(ValueError, match="must be a Keras layer"):
        FixedPointLayer(lambda z: z)
    with pytest.raises(ValueError, match="rank >= 2"):
        FixedPointLayer(TanhCell(2))(np.zeros((3,), "float32"))
