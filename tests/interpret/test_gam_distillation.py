import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.interpret import distill_to_gam, feature_shapes, plot_feature_shapes


class _Formula(keras.layers.Layer):
    """A teacher with a known function of its two inputs."""

    def __init__(self, product, **kwargs):
        super().__init__(**kwargs)
        self.product = product

    def call(self, x):
        if self.product:  # a pure interaction: no additive model can fit it
            return x[:, :1] * x[:, 1:2]
        return ops.sin(2.0 * x[:, :1]) + ops.square(x[:, 1:2])


def _teacher(product):
    return keras.Sequential([keras.Input((2,)), _Formula(product)])


X = np.random.default_rng(0).uniform(-1.5, 1.5, size=(512, 2)).astype("float32")


@pytest.fixture(scope="module")
def additive_student():
    return distill_to_gam(
        _teacher(False),
        X[:384],
        x_eval=X[384:],
        task="regression",
        hidden_units=(16, 16),
        epochs=25,
        batch_size=64,
    )


def test_recovers_additive_teacher_and_its_shape_functions(additive_student):
    student, fidelity = additive_student
    assert fidelity > 0.95
    grid, shapes = feature_shapes(student, X, points=21)
    # The shape functions are the teacher's terms up to a constant (both centred).
    for i, term in enumerate((np.sin(2.0 * grid[:, 0]), grid[:, 1] ** 2)):
        reference = term - (np.sin(2.0 * X[:, 0]) if i == 0 else X[:, 1] ** 2).mean()
        assert np.abs(shapes[:, i] - reference).max() < 0.35, i


def test_interaction_teacher_has_low_fidelity():
    _, fidelity = distill_to_gam(_teacher(True), X, task="regression", hidden_units=(8,), epochs=5)
    assert fidelity < 0.2


def test_classifier_with_probability_outputs():
    keras.utils.set_random_seed(0)
    teacher = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
    teacher.layers[-1].set_weights([np.array([[2, -1, 0], [0, 2, -2]], "float32"), np.zeros(3)])
    student, agreement = distill_to_gam(
        teacher, X, teacher_outputs="probabilities", hidden_units=(8,), epochs=8
    )
    assert agreement > 0.9
    assert student.output_shape == (None, 3)


def test_plot_writes_png(additive_student, tmp_path):
    path = plot_feature_shapes(
        additive_student[0], X, str(tmp_path / "s.png"), feature_names=["a", "b"]
    )
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_bad_arguments(additive_student):
    with pytest.raises(ValueError, match="`x`.*Received"):
        distill_to_gam(_teacher(False), X[:, :1, None])
    with pytest.raises(ValueError, match="`task`.*Received"):
        distill_to_gam(_teacher(False), X, task="ranking")
    with pytest.raises(ValueError, match="`model`.*Received"):
        feature_shapes(_teacher(False), X)
    with pytest.raises(ValueError, match="`output`.*Received"):
        feature_shapes(additive_student[0], X, output=1)
    with pytest.raises(ValueError, match="`feature_names`.*Received"):
        plot_feature_shapes(additive_student[0], X, "unused.png", feature_names=["a"])
