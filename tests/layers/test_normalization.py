import keras
import numpy as np
import pytest

from keras_dlss.layers import normalization
from keras_dlss.testing import run_layer_test


def _x(shape=(4, 5, 5, 8), seed=0):
    rng = np.random.default_rng(seed)
    # Per-channel offsets and scales, so an un-normalized output is easy to tell apart.
    return (rng.standard_normal(shape) * np.arange(1, shape[-1] + 1) + 3.0).astype("float32")


def _np(y):
    return keras.ops.convert_to_numpy(y).astype("float64")


@pytest.mark.parametrize(
    "kind, cls",
    [
        ("batch", keras.layers.BatchNormalization),
        ("group", keras.layers.GroupNormalization),
        ("instance", keras.layers.GroupNormalization),
        ("layer", keras.layers.LayerNormalization),
        ("none", keras.layers.Identity),
    ],
)
def test_returns_fresh_core_layer(kind, cls):
    kwargs = {"groups": 4} if kind == "group" else {}
    a, b = normalization(kind, **kwargs), normalization(kind, **kwargs)
    assert type(a) is cls and a is not b
    assert kind == "none" or not a.built  # Identity has nothing to build
    assert tuple(a(_x()).shape) == (4, 5, 5, 8)


@pytest.mark.parametrize(
    "kind, kwargs",
    [
        ("batch", {}),
        ("batch", {"synchronized": True}),
        ("group", {"groups": 4}),
        ("instance", {}),
        ("layer", {}),
    ],
)
def test_factory_layers_pass_conformance(kind, kwargs):
    config = normalization(kind, **kwargs).get_config()
    config.pop("name")
    layer_cls = type(normalization(kind, **kwargs))
    x = _x((2, 3, 3, 8))
    # Keras passes masks through these layers, but the statistics mix positions by
    # design (an image has no padded steps), so the masking check does not apply.
    report = run_layer_test(
        layer_cls,
        config,
        x,
        expected_output_shape=x.shape,
        check_masking=False,
        atol=1e-4,
        rtol=1e-4,
    )
    for check in ("serialization", "xla_parity", "export", "gradients", "fit_xla"):
        assert report.results[check] == "passed", report


def test_group_normalizes_each_group():
    y = _np(normalization("group", groups=2, epsilon=1e-6)(_x()))
    groups = y.reshape(4, 5, 5, 2, 4)  # [B, H, W, G, C/G]
    np.testing.assert_allclose(groups.mean(axis=(1, 2, 4)), 0.0, atol=1e-5)
    np.testing.assert_allclose(groups.var(axis=(1, 2, 4)), 1.0, atol=1e-3)
    # Channels within a group are not normalized one by one.
    assert np.abs(y.mean(axis=(1, 2))).max() > 0.1


def test_instance_normalizes_each_channel_of_each_sample():
    layer = normalization("instance", epsilon=1e-6)
    y = _np(layer(_x()))
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(1, 2)), 1.0, atol=1e-3)
    assert layer.groups == 8  # Keras resolved groups=-1 to one group per channel


def test_layer_normalizes_over_channels_at_each_position():
    y = _np(normalization("layer", epsilon=1e-6)(_x()))
    np.testing.assert_allclose(y.mean(axis=-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=-1), 1.0, atol=1e-3)


@pytest.mark.parametrize("synchronized", [False, True])
def test_batch_uses_batch_statistics_only_in_training(synchronized):
    layer = normalization("batch", synchronized=synchronized, epsilon=1e-6)
    assert layer.synchronized is synchronized
    x = _x()
    y = _np(layer(x, training=True))
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 1, 2)), 1.0, atol=1e-3)
    # Inference uses the moving statistics (barely moved from 0/1 after one step).
    y_inference = _np(layer(x, training=False))
    assert np.abs(y_inference.mean(axis=(0, 1, 2))).max() > 1.0


def test_none_is_identity():
    x = _x()
    np.testing.assert_array_equal(_np(normalization("none", name="skip")(x)), x)


def test_kwargs_reach_the_keras_layer():
    layer = normalization("batch", momentum=0.9, epsilon=1e-3, axis=1, name="bn")
    assert (layer.momentum, layer.epsilon, layer.axis, layer.name) == (0.9, 1e-3, 1, "bn")
    layer = normalization("group", groups=4, center=False, channels=8)
    assert layer.groups == 4 and not layer.center


@pytest.mark.parametrize("kind", ["group", "instance", "layer", "batch"])
def test_channels_first_axis(kind):
    kwargs = {"groups": 2} if kind == "group" else {}
    x = _x()
    last = _np(normalization(kind, epsilon=1e-6, **kwargs)(x, training=True))
    first = _np(
        normalization(kind, axis=1, epsilon=1e-6, **kwargs)(
            np.transpose(x, (0, 3, 1, 2)), training=True
        )
    )
    np.testing.assert_allclose(np.transpose(first, (0, 2, 3, 1)), last, atol=1e-4)


def test_model_with_factory_layers_saves_and_loads(tmp_path):
    inputs = keras.Input((5, 5, 8))
    h = inputs
    for kind in ("batch", "group", "instance", "layer", "none"):
        h = normalization(kind, **({"groups": 4} if kind == "group" else {}))(h)
    model = keras.Model(inputs, h)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = _x()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize("kind", ["batchnorm", "Batch", None, 3])
def test_unknown_kind_lists_the_kinds(kind):
    with pytest.raises(
        ValueError,
        match=r"Argument `kind` must be one of \['batch', 'group', 'instance', 'layer', 'none'\]"
        rf"\. Received: kind={kind!r}",
    ):
        normalization(kind)


def test_groups_not_dividing_channels_raises():
    with pytest.raises(ValueError, match=r"Argument `groups` must divide.*groups=3, channels=8"):
        normalization("group", groups=3, channels=8)
    # Without `channels`, Keras checks it when the layer is built.
    with pytest.raises(ValueError, match=r"groups \(3\)"):
        normalization("group", groups=3)(_x())


@pytest.mark.parametrize("groups", [0, -1, 2.5, True])
def test_bad_groups_raises(groups):
    with pytest.raises(ValueError, match=rf"Argument `groups`.*Received: groups={groups!r}"):
        normalization("group", groups=groups)


def test_instance_rejects_groups():
    with pytest.raises(
        ValueError, match=r'Argument `groups` is not accepted by kind="instance".*groups=4'
    ):
        normalization("instance", groups=4)


def test_unknown_keyword_raises():
    with pytest.raises(ValueError, match="momentum"):
        normalization("group", groups=2, momentum=0.9)


@pytest.mark.parametrize("kind", ["batch", "group", "instance", "layer", "none"])
def test_every_kind_accepts_the_channel_count(kind):
    # The docstring promises `channels` for any kind, so a model can pass it uniformly.
    kwargs = {"groups": 4} if kind == "group" else {}
    layer = normalization(kind, channels=8, **kwargs)
    assert layer(np.ones((2, 3, 3, 8), "float32")).shape == (2, 3, 3, 8)
    with pytest.raises(ValueError, match="`channels`"):
        normalization(kind, channels=0, **kwargs)
