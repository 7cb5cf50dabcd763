import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.debugging import GradientCheckError, GradientCheckReport, gradient_check


@ops.custom_gradient
def _wrong_product(x, y):
    """x * y whose gradient with respect to y is planted wrong (2x instead of x)."""

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        return upstream * y, upstream * 2.0 * x

    return x * y, grad


@keras.saving.register_keras_serializable(package="keras_dlss_tests")
class _WrongKernelGrad(keras.layers.Layer):
    """Dense-like layer whose kernel gradient is planted wrong; the input gradient is right."""

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 3), name="kernel")
        self.bias = self.add_weight(shape=(3,), name="bias", initializer="ones")

    def call(self, x):
        @ops.custom_gradient
        def matmul(x, w):
            def grad(*args, upstream=None):
                if upstream is None:
                    (upstream,) = args
                return ops.matmul(upstream, ops.transpose(w)), 1.5 * ops.matmul(
                    ops.transpose(x), upstream
                )

            return ops.matmul(x, w), grad

        # A tensor, not the variable: tf.custom_gradient would demand a `variables` kwarg.
        return ops.tanh(matmul(x, self.kernel * 1.0) + self.bias)


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_closed_form_function_passes(fast_mode):
    f = lambda x, y: ops.sin(x) * y + x**2  # noqa: E731
    report = gradient_check(f, (_rand(2, 3), _rand(2, 3, seed=1)), fast_mode=fast_mode, order=2)
    assert isinstance(report, GradientCheckReport) and report.passed
    assert [r.name for r in report.results] == ["inputs[0]", "inputs[1]"] * 2
    expected = 36 if not fast_mode else 1  # 6 outputs x 6 elements per input
    assert report["inputs[0]"].checked == expected


def test_full_mode_matches_closed_form_jacobian_exactly():
    report = gradient_check(lambda x: x**3, _rand(4))
    assert report.passed and report["inputs"].max_abs_error < 1e-8


@pytest.mark.parametrize("fast_mode", [False, True])
def test_planted_wrong_gradient_names_the_tensor(fast_mode):
    with pytest.raises(GradientCheckError, match=r"failed for `inputs\[1\]`\.") as info:
        gradient_check(_wrong_product, (_rand(3), _rand(3, seed=1) + 2), fast_mode=fast_mode)
    report = info.value.report
    assert report["inputs[0]"].passed and not report["inputs[1]"].passed
    assert "FAILED" in str(report)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_planted_wrong_variable_gradient_in_layer(fast_mode):
    layer = _WrongKernelGrad()
    with pytest.raises(GradientCheckError) as info:
        gradient_check(layer, _rand(2, 4).astype("float32"), fast_mode=fast_mode)
    failed = [r.name for r in info.value.report.failures]
    assert failed == [layer.kernel.path]


def test_full_mode_reports_worst_index():
    with pytest.raises(GradientCheckError) as info:
        gradient_check(_wrong_product, (np.array([1.0, 3.0, 1.0]), np.ones(3)))
    result = info.value.report["inputs[1]"]
    assert tuple(result.worst_index) == (1,) and result.worst_output == 1
    assert result.analytical == pytest.approx(6.0) and result.numerical == pytest.approx(3.0)


def test_fast_mode_locates_the_worst_element_of_a_failing_tensor():
    with pytest.raises(GradientCheckError) as info:
        gradient_check(_wrong_product, (np.array([1.0, 3.0, 1.0]), np.ones(3)), fast_mode=True)
    result = info.value.report["inputs[1]"]
    assert result.checked == 1 and tuple(result.worst_index) == (1,)


def test_raise_exception_false_returns_failed_report():
    report = gradient_check(_wrong_product, (_rand(3), _rand(3)), raise_exception=False)
    assert not report.passed and [r.name for r in report.failures] == ["inputs[1]"]


def test_order_two_catches_wrong_second_derivative():
    @ops.custom_gradient
    def cube(x):
        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            # Right first derivative, but written with a stop_gradient: the second
            # derivative through it is wrong (0 instead of 6x).
            return upstream * ops.stop_gradient(3.0 * x**2)

        return x**3, grad

    assert gradient_check(cube, _rand(3)).passed
    with pytest.raises(GradientCheckError):
        gradient_check(cube, _rand(3), order=2)


def test_dense_layer_float32_is_copied_to_float64():
    layer = keras.layers.Dense(5, activation="tanh")
    x = _rand(2, 3).astype("float32")
    report = gradient_check(layer, x)
    assert report.passed
    assert {r.name for r in report.results} == {"inputs", layer.kernel.path, layer.bias.path}
    assert layer.dtype == "float32"  # the original is untouched


def test_functional_model_and_variable_selection():
    inputs = keras.Input((3,))
    model = keras.Model(
        inputs, keras.layers.Dense(2)(keras.layers.Dense(4, activation="tanh")(inputs))
    )
    kernel = model.layers[1].kernel
    report = gradient_check(model, _rand(2, 3), variables=[kernel.path])
    assert [r.name for r in report.results] == ["inputs", kernel.path]


def test_list_input_layer_and_integer_inputs():
    report = gradient_check(keras.layers.Multiply(), ([_rand(2, 3), _rand(2, 3, seed=1)],))
    assert [r.name for r in report.results] == ["inputs[0][0]", "inputs[0][1]"]
    emb = keras.layers.Embedding(5, 3)
    report = gradient_check(emb, np.array([[0, 1, 4]]))
    assert [r.name for r in report.results] == [emb.embeddings.path]


def test_mask_in_call_kwargs():
    layer = keras.layers.GlobalAveragePooling1D()
    mask = np.array([[True, True, False], [True, False, False]])
    report = gradient_check(layer, _rand(2, 3, 4), call_kwargs={"mask": mask})
    assert report.passed


def test_dropout_runs_in_inference_mode_by_default():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), keras.layers.Dropout(0.5)])
    assert gradient_check(model, _rand(3, 4)).passed


def test_skip_kinks():
    x = np.array([0.0, 1.0, -1.0])  # relu has a kink at 0: analytical 0, numerical 0.5
    with pytest.raises(GradientCheckError):
        gradient_check(keras.activations.relu, x)
    report = gradient_check(keras.activations.relu, x, skip_kinks=True)
    assert report.passed and report["inputs"].skipped == 1  # only d relu(x0) / d x0


def test_bad_inputs():
    with pytest.raises(ValueError, match="Received: eps=0"):
        gradient_check(ops.sin, _rand(2), eps=0)
    with pytest.raises(ValueError, match="Received: order=3"):
        gradient_check(ops.sin, _rand(2), order=3)
    with pytest.raises(ValueError, match="nothing to differentiate"):
        gradient_check(lambda i: ops.cast(i, "float32"), np.array([1, 2]))
    with pytest.raises(ValueError, match="floating-point outputs"):
        gradient_check(lambda x: ops.cast(x > 0, "int32"), _rand(2))
    with pytest.raises(ValueError, match="deterministic"):
        gradient_check(lambda x: x * np.random.rand(), _rand(2))
    with pytest.raises(ValueError, match="must be finite"):
        gradient_check(ops.sin, np.array([np.nan, 1.0]))
    with pytest.raises(ValueError, match="non-empty batch"):
        gradient_check(ops.sin, np.zeros((0, 3)))
    with pytest.raises(ValueError, match="Use fast_mode=True"):
        gradient_check(ops.sin, np.zeros(20000))  # a 20000 x 20000 Jacobian
    with pytest.raises(ValueError, match="float64 variables"):
        v = keras.Variable(np.ones(2, "float32"))
        gradient_check(lambda x: x * v, _rand(2), variables=[v])


def test_dropout_in_training_mode_is_checked_with_a_frozen_mask():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(6), keras.layers.Dropout(0.5)])
    report = gradient_check(model, _rand(4, 6), call_kwargs={"training": True})
    assert report.passed


def test_float64_model_is_used_without_copy_and_left_intact():
    model = keras.Sequential(
        [keras.Input((3,), dtype="float64"), keras.layers.Dense(2, dtype="float64")]
    )
    before = [w.copy() for w in model.get_weights()]
    assert gradient_check(model, _rand(2, 3), fast_mode=True).passed
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
