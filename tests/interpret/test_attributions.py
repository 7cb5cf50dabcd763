"""Attribution methods against closed forms and brute force (issue #15)."""

import itertools
import math
import os

import keras
import numpy as np
import pytest

from keras_dlss import interpret

RNG = np.random.default_rng(0)
W = RNG.normal(size=(6, 3)).astype("float32")
B = RNG.normal(size=(3,)).astype("float32")
X = RNG.normal(size=(4, 6)).astype("float32")


@pytest.fixture(scope="module")
def linear():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    model.set_weights([W, B])
    return model


@pytest.fixture(scope="module")
def mlp():
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(3)]
    )


def test_saliency_is_the_analytic_gradient_of_a_linear_model(linear):
    np.testing.assert_allclose(interpret.saliency(linear, X, 1), np.tile(W[:, 1], (4, 1)))
    per_example = np.array([0, 2, 1, 0])
    got = interpret.saliency(linear, X, per_example, method="gradient_x_input")
    np.testing.assert_allclose(got, W[:, per_example].T * X, rtol=1e-6)
    got = interpret.saliency(linear, X, lambda out: out[:, 0] - out[:, 2], jit_compile=False)
    np.testing.assert_allclose(got, np.tile(W[:, 0] - W[:, 2], (4, 1)), rtol=1e-6)


@pytest.mark.parametrize("method", ["riemann_right", "riemann_middle", "gausslegendre"])
def test_ig_of_a_linear_model_is_weight_times_difference(linear, method):
    base = RNG.normal(size=(6,)).astype("float32")
    attr, delta = interpret.integrated_gradients(
        linear, X, 2, baseline=base, steps=5, method=method
    )
    np.testing.assert_allclose(attr, W[:, 2] * (X - base), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(delta, 0.0, atol=1e-5)


@pytest.mark.parametrize("method", ["riemann_left", "riemann_trapezoid", "gausslegendre"])
def test_ig_completeness_delta_shrinks_as_steps_grow(mlp, method):
    f = lambda x: keras.ops.convert_to_numpy(mlp(x))[:, 0]  # noqa: E731
    gaps = []
    for steps in (4, 16, 64):
        attr, delta = interpret.integrated_gradients(mlp, X, 0, steps=steps, method=method)
        attr, delta = np.asarray(attr), np.asarray(delta)
        # The reported delta is the completeness gap, computed independently here.
        gap = attr.sum(1) - (f(X) - f(np.zeros_like(X)))
        np.testing.assert_allclose(delta, gap, atol=2e-5)
        gaps.append(np.abs(gap).max())
    assert gaps[-1] < gaps[0] or gaps[0] < 1e-5
    assert gaps[-1] < 2e-3


def test_quadrature_rules_integrate_as_expected():
    from keras_dlss.interpret.integrated_gradients import quadrature

    for rule in ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid"):
        alphas, weights = quadrature(rule, 200)
        assert math.isclose(weights.sum(), 1.0) and alphas.min() >= 0 and alphas.max() <= 1
        assert abs((weights * alphas**2).sum() - 1 / 3) < 1e-2
    alphas, weights = quadrature("gausslegendre", 2)  # exact for cubics
    assert math.isclose((weights * alphas**3).sum(), 0.25, rel_tol=1e-12)


def test_smoothgrad_without_noise_is_the_gradient(mlp):
    sg = interpret.smoothgrad(mlp, X, 1, num_samples=3, noise_level=0.0)
    np.testing.assert_allclose(sg, interpret.saliency(mlp, X, 1), rtol=1e-5, atol=1e-6)
    noisy = interpret.smoothgrad(mlp, X, 1, num_samples=8, squared=True)
    assert np.asarray(noisy).shape == X.shape and np.all(np.asarray(noisy) >= 0)


def test_eager_and_compiled_agree(mlp):
    a = interpret.integrated_gradients(mlp, X, 0, steps=8, jit_compile=False)[0]
    b = interpret.integrated_gradients(mlp, X, 0, steps=8)[0]
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_occlusion_of_a_linear_model_is_weight_times_input_per_window(linear):
    got = interpret.occlusion(linear, X, 0, window=2, strides=2)
    per_window = (W[:, 0] * X).reshape(4, 3, 2).sum(-1)
    np.testing.assert_allclose(got, np.repeat(per_window, 2, axis=1), rtol=1e-5, atol=1e-6)


def _brute_force_occlusion(f, x, window, stride):
    """Captum's placement: ceil((d - w) / s) + 1 starts per axis, windows cut at the edge."""
    total, counts = np.zeros_like(x), np.zeros(x.shape[1:])
    starts = [
        range(0, s * (math.ceil((d - w) / s) + 1), s)
        for d, w, s in zip(x.shape[1:], window, stride)
    ]
    for corner in itertools.product(*starts):
        mask = np.zeros(x.shape[1:])
        mask[tuple(slice(c, c + w) for c, w in zip(corner, window))] = 1
        drop = f(x) - f(x * (1 - mask))
        total += drop.reshape((-1,) + (1,) * mask.ndim) * mask
        counts += mask
    return total / counts


def test_overlapping_occlusion_matches_brute_force():
    keras.utils.set_random_seed(2)
    cnn = keras.Sequential(
        [
            keras.Input((5, 5, 2)),
            keras.layers.Conv2D(3, 3),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ]
    )
    x = RNG.normal(size=(2, 5, 5, 2)).astype("float32")
    f = lambda z: keras.ops.convert_to_numpy(cnn(z.astype("float32")))[:, 1]  # noqa: E731
    got = interpret.occlusion(cnn, x, 1, window=(2, 2, 2), strides=(2, 1, 2), sets_per_batch=5)
    np.testing.assert_allclose(got, _brute_force_occlusion(f, x, (2, 2, 2), (2, 1, 2)), atol=1e-5)


def test_feature_ablation_groups(linear):
    groups = np.array([0, 0, 1, 1, 1, 2])
    got = np.asarray(interpret.feature_ablation(linear, X, 0, feature_mask=groups))
    wx = W[:, 0] * X
    expected = np.stack([wx[:, groups == g].sum(1) for g in groups], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(interpret.feature_ablation(linear, X, 0), wx, rtol=1e-5, atol=1e-6)


def test_deletion_insertion_curves(linear):
    x = np.abs(X)
    positive = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1)])
    positive.set_weights([np.abs(W[:, :1]), np.zeros(1, "float32")])
    attr = interpret.saliency(positive, x, 0, method="gradient_x_input")
    curves = interpret.deletion_insertion_curves(positive, x, 0, attr, steps=6)
    f = (x * np.abs(W[:, 0])).sum(1)
    np.testing.assert_allclose(curves["deletion"][:, 0], f, rtol=1e-5)
    np.testing.assert_allclose(curves["deletion"][:, -1], 0.0, atol=1e-5)
    assert np.all(np.diff(curves["deletion"], axis=1) <= 1e-5)
    assert np.all(np.diff(curves["insertion"], axis=1) >= -1e-5)
    # The attribution order beats the reverse order on both curves.
    worst = interpret.deletion_insertion_curves(positive, x, 0, -np.asarray(attr), steps=6)
    assert np.all(curves["deletion_auc"] <= worst["deletion_auc"] + 1e-6)
    assert np.all(curves["insertion_auc"] >= worst["insertion_auc"] - 1e-6)


def test_grad_cam_highlights_the_region_the_answer_depends_on():
    # Channel 0 carries a blob at the top left, channel 1 one at the bottom right; class 0
    # reads channel 0 only, so its map must light the top left and nothing else.
    conv = keras.layers.Conv2D(2, 1, use_bias=False, name="conv")
    model = keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            conv,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, use_bias=False),
        ]
    )
    conv.set_weights([np.eye(2, dtype="float32").reshape(1, 1, 2, 2)])
    model.layers[-1].set_weights([np.eye(2, dtype="float32")])
    x = np.zeros((1, 8, 8, 2), "float32")
    x[0, 1:3, 1:3, 0] = 1.0
    x[0, 5:7, 5:7, 1] = 1.0
    cam = np.asarray(interpret.grad_cam(model, x, 0, "conv", resize=False))[0]
    assert cam[1:3, 1:3].min() > 0 and np.all(cam[4:, 4:] == 0)
    cam1 = np.asarray(interpret.grad_cam(model, x, 1, "conv"))[0]
    assert np.unravel_index(cam1.argmax(), cam1.shape)[0] >= 4


def test_bad_inputs(linear):
    with pytest.raises(ValueError, match="`target`.*Received: target=3"):
        interpret.saliency(linear, X, 3)
    with pytest.raises(ValueError, match="`baseline`.*Received"):
        interpret.integrated_gradients(linear, X, 0, baseline=np.zeros((5,)))
    with pytest.raises(ValueError, match="`window`"):
        interpret.occlusion(linear, X, 0, window=(2, 2))
    with pytest.raises(ValueError, match="`feature_mask`"):
        interpret.feature_ablation(linear, X, 0, feature_mask=np.zeros(4, int))
    with pytest.raises(ValueError, match="`method`"):
        interpret.integrated_gradients(linear, X, 0, method="simpson")
    cnn = keras.Sequential(
        [
            keras.Input((4, 4, 1)),
            keras.layers.Conv2D(2, 3, name="c"),
            keras.layers.Flatten(),
            keras.layers.Dense(2, name="d"),
        ]
    )
    with pytest.raises(ValueError, match=r"`layer_name`.*valid names: \['c'\].*Received"):
        interpret.grad_cam(cnn, np.ones((1, 4, 4, 1)), 0, "conv2d")


def test_target_range_read_from_a_subclassed_model_without_symbolic_outputs():
    # Symbolic models give the class count from `model.outputs`; a subclassed model
    # has none, so it is read from one forward pass instead.
    class Linear(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3)

        def call(self, x):
            return self.dense(x)

    model = Linear()
    model(X)
    model.set_weights([W, B])
    np.testing.assert_allclose(interpret.saliency(model, X, 2), np.tile(W[:, 2], (4, 1)), rtol=1e-6)
    with pytest.raises(ValueError, match=r"`target`.*\[0, 3\).*Received: target=3"):
        interpret.saliency(model, X, 3)


def test_plot_attributions_writes_a_png(tmp_path):
    path = interpret.plot_attributions(
        RNG.random((2, 8, 8, 3)), RNG.random((2, 4, 4)), str(tmp_path / "a.png"), titles=["a", "b"]
    )
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(path) > 1000
