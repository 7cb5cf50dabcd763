"""The conformance harness passes good layers and reports each kind of broken one."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.testing import LayerTestError, run_layer_test

X = np.random.default_rng(0).normal(size=(3, 4, 5)).astype("float32")

# Checks that are slow and irrelevant to the defect a test plants.
FAST = dict(check_export=False, check_fit=False, check_mixed_precision=False, check_gradients=False)


@keras.saving.register_keras_serializable(package="keras_dlss_test")
class GoodDense(keras.layers.Layer):
    """Per-position dense map; supports masking because positions do not interact."""

    def __init__(self, units, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.scale = scale
        self.supports_masking = True

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], self.units))
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="ones")

    def call(self, x):
        return ops.tanh(ops.matmul(x, self.kernel) * self.scale + self.bias)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scale": self.scale}


@keras.saving.register_keras_serializable(package="keras_dlss_test")
class ConfigMissingArgument(GoodDense):
    def get_config(self):
        config = super().get_config()
        del config["scale"]
        return config


@keras.saving.register_keras_serializable(package="keras_dlss_test")
class PythonBranchOnTensor(GoodDense):
    def call(self, x):
        # Converting a tensor to a Python bool fails once the call is traced.
        if float(ops.convert_to_numpy(ops.sum(x))) > 0:
            return super().call(x)
        return -super().call(x)


@keras.saving.register_keras_serializable(package="keras_dlss_test")
class HostCallback(GoodDense):
    def call(self, x):
        import tensorflow as tf

        # A host callback runs in graph mode but has no XLA kernel.
        y = tf.numpy_function(lambda a: a * 2.0, [super().call(x)], "float32", stateful=False)
        return tf.ensure_shape(y, x.shape[:-1] + (self.units,))


@ops.custom_gradient
def _square_with_wrong_gradient(x):
    def grad(*args, upstream=None):
        upstream = args[0] if args else upstream
        return upstream * 3.0 * x  # should be 2 * x

    return ops.square(x), grad


@keras.saving.register_keras_serializable(package="keras_dlss_test")
class WrongCustomGradient(GoodDense):
    def call(self, x):
        return _square_with_wrong_gradient(super().call(x))


@keras.saving.register_keras_serializable(package="keras_dlss_test")
class IgnoresMask(GoodDense):
    def call(self, x, mask=None):
        # Pooling over time mixes positions while ignoring the mask.
        y = super().call(x)
        return y + ops.mean(y, axis=1, keepdims=True)


@keras.saving.register_keras_serializable(package="keras_dlss_test")
class Float16Variables(GoodDense):
    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=(input_shape[-1], self.units), dtype=self.compute_dtype
        )
        self.bias = self.add_weight(name="bias", shape=(self.units,), dtype=self.compute_dtype)


def test_good_layer_passes_every_check():
    report = run_layer_test(
        GoodDense, {"units": 3, "scale": 0.5}, X, expected_output_shape=(3, 4, 3)
    )
    assert set(report.results) >= {
        "serialization",
        "xla_parity",
        "export",
        "gradients",
        "mixed_precision",
        "masking",
        "fit_xla",
    }
    assert all(status == "passed" for status in report.results.values()), str(report)
    assert "GoodDense" in str(report)


def test_keras_core_layer_passes():
    report = run_layer_test(keras.layers.Dense, {"units": 2}, X[:, 0], **FAST)
    assert report.results["xla_parity"] == "passed"


def test_reports_wrong_output_shape():
    with pytest.raises(LayerTestError, match=r"\[output_shape\].*\(3, 4, 3\)"):
        run_layer_test(GoodDense, {"units": 3}, X, expected_output_shape=(3, 4, 2), **FAST)


def test_reports_config_missing_an_argument():
    with pytest.raises(
        LayerTestError, match=r"\[serialization\].*'scale'.*missing from get_config"
    ):
        run_layer_test(ConfigMissingArgument, {"units": 3, "scale": 2.0}, X, **FAST)


def test_reports_python_branching_on_tensor_values():
    # The layer works eagerly; tracing it on symbolic inputs is what fails.
    with pytest.raises(
        LayerTestError,
        match=r"(?s)\[(symbolic_call|xla_parity)\] graph \(tf.function\) call failed.*symbolic",
    ):
        run_layer_test(PythonBranchOnTensor, {"units": 3}, X, **FAST)


def test_reports_op_without_xla_kernel():
    with pytest.raises(
        LayerTestError, match=r"(?s)\[xla_parity\] jit_compile=True call failed.*XLA"
    ):
        run_layer_test(HostCallback, {"units": 3}, X, check_masking=False, **FAST)


def test_reports_wrong_custom_gradient():
    with pytest.raises(LayerTestError, match=r"\[gradients\]") as info:
        run_layer_test(
            WrongCustomGradient,
            {"units": 3},
            X,
            check_xla=False,
            check_export=False,
            check_fit=False,
            check_mixed_precision=False,
        )
    assert info.value.report.results["gradients"] == "failed"
    assert info.value.report.results["serialization"] == "passed"


def test_reports_layer_that_ignores_its_mask():
    with pytest.raises(LayerTestError, match=r"\[masking\].*masked positions"):
        run_layer_test(
            IgnoresMask, {"units": 3}, X, check_xla=False, check_serialization=False, **FAST
        )


def test_reports_half_precision_variables():
    with pytest.raises(LayerTestError, match=r"\[mixed_precision\].*not float32"):
        run_layer_test(
            Float16Variables,
            {"units": 3},
            X,
            check_xla=False,
            check_gradients=False,
            check_serialization=False,
            check_export=False,
            check_fit=False,
        )


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="layer_cls"):
        run_layer_test(object, {}, X)
    with pytest.raises(ValueError, match="input_data"):
        run_layer_test(GoodDense, {"units": 3})
