"""`layers.DenseCRF`: conformance, agreement with the functional core, training, bad inputs."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.debugging import gradient_check
from keras_dlss.layers import DenseCRF
from keras_dlss.ops import dense_crf_mean_field
from keras_dlss.testing import run_layer_test


def _inputs(b=2, h=6, w=6, labels=3, seed=0):
    rng = np.random.default_rng(seed)
    return [
        rng.normal(size=(b, h, w, labels)).astype("float32"),
        rng.random((b, h, w, 3)).astype("float32"),
    ]


def test_conformance_exact_path_with_learned_compatibility():
    # Includes the float64 finite-difference gradient check of every weight and input.
    report = run_layer_test(
        DenseCRF,
        {"iterations": 2, "compatibility": "learned"},
        _inputs(),
        expected_output_shape=(2, 6, 6, 3),
        atol=1e-4,
        rtol=1e-4,
    )
    for check in ("serialization", "xla_parity", "export", "gradients", "fit_xla"):
        assert report.results[check] == "passed", report


def test_fast_path_compiles_with_xla_and_has_correct_gradients():
    # A grayscale image: the bilateral grid has 2^3 corners per pixel (8, not 32),
    # which keeps the XLA compilation of the unrolled splat/slice short.
    rng = np.random.default_rng(0)
    unary = rng.normal(size=(1, 4, 4, 2)).astype("float32")
    image = rng.random((1, 4, 4, 1)).astype("float32")
    layer = DenseCRF(iterations=1, method="fast", grid_shape=(3, 3, 3))
    eager = ops.convert_to_numpy(layer([unary, image]))
    inputs = [keras.Input((4, 4, 2)), keras.Input((4, 4, 1))]
    model = keras.Model(inputs, layer(inputs))
    model.compile(jit_compile=True)
    np.testing.assert_allclose(model.predict([unary, image], verbose=0), eager, atol=1e-5)
    gradient_check(layer, ([unary, image],), fast_mode=True)


def test_layer_equals_the_op_with_its_initial_parameters():
    unary, image = _inputs()
    kwargs = dict(
        iterations=3,
        spatial_weight=0.5,
        spatial_sigma=2.0,
        bilateral_weight=1.5,
        bilateral_spatial_sigma=3.0,
        bilateral_color_sigma=0.2,
    )
    got = DenseCRF(**kwargs, compatibility="learned")([unary, image])
    want = dense_crf_mean_field(unary, image, **kwargs)
    np.testing.assert_allclose(ops.convert_to_numpy(got), ops.convert_to_numpy(want), atol=1e-5)


def test_training_moves_every_crf_parameter():
    unary, image = _inputs(b=4)
    target = np.argmax(unary[..., ::-1], -1)  # labels the unary disagrees with
    logits_in = keras.Input((6, 6, 3))
    image_in = keras.Input((6, 6, 3))
    crf = DenseCRF(iterations=2, compatibility="learned")
    model = keras.Model([logits_in, image_in], crf([logits_in, image_in]))
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    before = [ops.convert_to_numpy(w).copy() for w in crf.trainable_weights]
    model.fit([unary, image], target, epochs=2, verbose=0)
    after = [ops.convert_to_numpy(w) for w in crf.trainable_weights]
    assert len(before) == 6  # two weights, three log-bandwidths, the compatibility
    for name, b, a in zip([w.name for w in crf.trainable_weights], before, after):
        assert not np.allclose(b, a), name


def test_frozen_kernels_and_potts_have_no_trainable_weights():
    crf = DenseCRF(trainable_kernels=False)
    crf(_inputs())
    assert crf.trainable_weights == [] and len(crf.weights) == 5


def test_smooths_a_noisy_labelling_along_image_regions():
    # A two-region image whose unary is right on average but noisy per pixel.
    rng = np.random.default_rng(0)
    truth = np.zeros((1, 12, 12), "int32")
    truth[:, :, 6:] = 1
    image = np.where(truth[..., None] == 1, 0.9, 0.1).astype("float32") * np.ones((1, 12, 12, 3))
    unary = np.eye(2)[truth].astype("float32") + rng.normal(0, 0.9, (1, 12, 12, 2))
    unary = unary.astype("float32")
    refined = DenseCRF(iterations=5, bilateral_weight=2.0)([unary, image])
    before = (unary.argmax(-1) == truth).mean()
    after = (ops.convert_to_numpy(refined).argmax(-1) == truth).mean()
    assert after > before + 0.1 and after > 0.95, (before, after)


@pytest.mark.parametrize(
    "inputs, match",
    [
        (
            [np.zeros((2, 6, 6, 3), "float32"), np.zeros((2, 5, 6, 3), "float32")],
            r"`image`.*static height and width of `unary`.*Received",
        ),
        (
            [np.zeros((2, 6, 6), "float32"), np.zeros((2, 6, 6, 3), "float32")],
            r"`unary`.*rank 4.*Received",
        ),
        (
            [np.zeros((2, 6, 6, 3), "float32"), np.zeros((2, 6, 6), "float32")],
            r"`image`.*rank 4.*Received",
        ),
    ],
)
def test_mismatched_inputs_raise(inputs, match):
    with pytest.raises(ValueError, match=match):
        DenseCRF()(inputs)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"iterations": 0}, "iterations"),
        ({"spatial_sigma": 0.0}, "spatial_sigma"),
        ({"bilateral_color_sigma": -1.0}, "bilateral_color_sigma"),
        ({"compatibility": "dense"}, "compatibility"),
        ({"method": "lattice"}, "method"),
        ({"grid_shape": (4, 4)}, "grid_shape"),
    ],
)
def test_bad_arguments_raise(kwargs, argument):
    with pytest.raises(ValueError, match=rf"`{argument}`.*Received"):
        DenseCRF(**kwargs)
