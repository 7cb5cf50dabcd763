import collections
import json

import keras
import numpy as np
import pytest

from keras_dlss.applications import PlainNet, ResNet, get_task
from keras_dlss.applications.resnet_blocks import ZeroPadShortcut
from keras_dlss.export import export_and_compare
from keras_dlss.testing import run_layer_test

SMALL = {"width": 8, "groups": 4, "num_classes": 4, "input_shape": (16, 16, 3)}
X = np.random.default_rng(0).random((4, 16, 16, 3)).astype("float32")
Y = np.array([0, 1, 2, 3], "int32")


@pytest.fixture(scope="module")
def trained_small():
    """A depth-8 pre-activation ResNet with batch norm after one step (moving stats moved)."""
    keras.utils.set_random_seed(0)
    model = ResNet(8, **SMALL)
    model.compile(jit_compile=False)
    model.fit(X, Y, epochs=1, batch_size=4, verbose=0)
    return model


def _closed_form_param_counts(depth, width=16, classes=10, channels=3):
    """(trainable, total) of He et al.'s CIFAR network with option-A shortcuts (Section 4.2)."""
    n = (depth - 2) // 6
    convs, c_in = 9 * channels * width, width
    norm_channels = width  # post-activation: the stem's norm, then two per block (pre-activation
    # moves one norm per block onto the block's input and adds a final one: the same total)
    for c in (width, 2 * width, 4 * width):
        for _ in range(n):
            convs += 9 * c_in * c + 9 * c * c
            norm_channels += 2 * c
            c_in = c
    head = c_in * classes + classes
    # Batch norm: gamma and beta train; the moving mean and variance do not.
    return convs + 2 * norm_channels + head, convs + 4 * norm_channels + head


def _trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("depth", [20, 32])
def test_built_networks_have_6n_plus_2_weighted_layers_and_the_closed_form_parameters(depth):
    model = ResNet(depth)
    kinds = collections.Counter(type(layer).__name__ for layer in model.layers)
    assert kinds["Conv2D"] + kinds["Dense"] == depth  # weighted layers, as the paper counts
    assert kinds["Add"] == 3 * (depth - 2) // 6 and kinds["ZeroPadShortcut"] == 2
    assert (_trainable_count(model), model.count_params()) == _closed_form_param_counts(depth)
    if depth == 20:
        post = ResNet(depth, preactivation=False)
        assert (_trainable_count(post), post.count_params()) == _closed_form_param_counts(depth)


def test_parameter_counts_match_he_et_al_table_6():
    # He et al. 2016a, Table 6: 0.27M, 0.46M, 0.85M and 1.7M parameters.
    published = {20: 0.27, 32: 0.46, 56: 0.85, 110: 1.7}
    for depth, millions in published.items():
        trainable, _ = _closed_form_param_counts(depth)
        assert round(trainable / 1e6, 2 if depth < 100 else 1) == millions, depth


def test_plain_net_differs_only_by_the_skip_additions():
    residual, plain = ResNet(20), PlainNet(20)
    residual_kinds = collections.Counter(type(layer).__name__ for layer in residual.layers)
    plain_kinds = collections.Counter(type(layer).__name__ for layer in plain.layers)
    assert residual_kinds - plain_kinds == {"Add": 9, "ZeroPadShortcut": 2}
    assert not plain_kinds - residual_kinds
    shapes = [(w.path, w.shape) for w in residual.weights]
    assert shapes == [(w.path.replace("plain_net", "res_net"), w.shape) for w in plain.weights]
    assert plain.feature_layer_names == [
        "stage1_block3_conv2",
        "stage2_block3_conv2",
        "stage3_block3_conv2",
    ]
    assert residual.feature_layer_names == [
        "stage1_block3_add",
        "stage2_block3_add",
        "stage3_block3_add",
    ]
    # With the same weights, the skips change the function.
    plain.set_weights(residual.get_weights())
    x = np.random.default_rng(1).random((2, 32, 32, 3)).astype("float32")
    assert np.abs(residual(x) - plain(x)).max() > 1e-4


def test_zeroed_residual_branches_leave_the_option_a_identity_path():
    # conv2 = 0 makes every block its shortcut: the last feature map is then the stem's
    # output subsampled by 4 with zero channels padded around it (checked in numpy).
    model = ResNet(8, **SMALL)
    for layer in model.layers:
        if layer.name.endswith("_conv2"):
            layer.kernel.assign(np.zeros(layer.kernel.shape, "float32"))
    stem = keras.Model(model.input, model.get_layer("stem_conv").output)(X)
    last = keras.Model(model.input, model.get_layer(model.feature_layer_names[-1]).output)(X)
    expected = np.asarray(stem)[:, ::4, ::4, :]
    expected = np.pad(expected, [(0, 0), (0, 0), (0, 0), (12, 12)])  # 8 -> 16 -> 32 channels
    np.testing.assert_allclose(np.asarray(last), expected, atol=1e-6)


def test_zero_pad_shortcut_conformance():
    x = np.random.default_rng(2).standard_normal((2, 5, 5, 3)).astype("float32")
    report = run_layer_test(
        ZeroPadShortcut,
        {"filters": 6, "strides": 2},
        x,
        expected_output_shape=(2, 3, 3, 6),
        check_mixed_precision=False,
    )
    assert report
    y = np.asarray(ZeroPadShortcut(6)(x))
    np.testing.assert_array_equal(y, np.pad(x[:, ::2, ::2], [(0, 0)] * 3 + [(1, 2)]))


def test_xla_graph_and_eager_agree_on_outputs_and_a_training_step():
    keras.utils.set_random_seed(3)
    models = {
        mode: ResNet(8, norm="batch", **{k: v for k, v in SMALL.items()})
        for mode in ("xla", "eager")
    }
    models["eager"].set_weights(models["xla"].get_weights())
    models["xla"].compile(jit_compile=True)
    models["eager"].compile(run_eagerly=True)
    np.testing.assert_allclose(
        models["xla"].predict(X, verbose=0), models["eager"](X, training=False), atol=1e-5
    )
    for model in models.values():
        model.fit(X, Y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    for a, b in zip(models["xla"].weights, models["eager"].weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-5, err_msg=a.path)


def test_keras_round_trip_keeps_outputs_config_and_compile(trained_small, tmp_path):
    path = tmp_path / "resnet.keras"
    trained_small.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is ResNet and loaded.get_config() == trained_small.get_config()
    np.testing.assert_allclose(loaded(X), trained_small(X), atol=1e-6)
    assert loaded.jit_compile is False and type(loaded.optimizer).__name__ == "SGD"
    plain = PlainNet(8, preactivation=False, shortcut="projection", **SMALL)
    plain.save(tmp_path / "plain.keras")
    assert type(keras.saving.load_model(tmp_path / "plain.keras")) is PlainNet


@pytest.mark.parametrize("format", ["tf_saved_model", "onnx"])
def test_export_parity(trained_small, tmp_path, format):
    path = tmp_path / ("model.onnx" if format == "onnx" else "saved_model")
    assert export_and_compare(trained_small, str(path), X, format=format) < 1e-5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"norm": "batch"},
        {"norm": "group", "weight_standardization": True},
        {"norm": "instance"},
        {"norm": "layer", "preactivation": False, "shortcut": "projection"},
        {"norm": "none", "classifier_activation": None},
    ],
)
def test_every_norm_kind_builds_and_trains_a_step(kwargs):
    model = ResNet(8, **{**SMALL, **kwargs})
    expected = {
        "batch": "BatchNormalization",
        "group": "GroupNormalization",
        "instance": "GroupNormalization",
        "layer": "LayerNormalization",
        "none": "Identity",
    }
    assert type(model.get_layer("stage2_block1_norm1")).__name__ == expected[kwargs["norm"]]
    conv = type(model.get_layer("stage1_block1_conv1")).__name__
    assert conv == (
        "WeightStandardizedConv2D" if kwargs.get("weight_standardization") else "Conv2D"
    )
    model.compile(jit_compile=False)
    before = [np.asarray(w) for w in model.trainable_weights]
    loss = model.fit(X, Y, epochs=1, batch_size=4, verbose=0).history["loss"][0]
    assert np.isfinite(loss)
    assert any(np.abs(b - np.asarray(w)).max() > 0 for b, w in zip(before, model.trainable_weights))


def test_headless_and_any_size_inputs():
    model = ResNet(8, width=8, include_top=False, input_shape=(None, None, 3))
    assert model(np.zeros((1, 24, 20, 3), "float32")).shape == (1, 6, 5, 32)


@pytest.mark.parametrize(
    "kwargs, argument, value",
    [
        ({"depth": 21}, "depth", 21),
        ({"depth": 2}, "depth", 2),
        ({"depth": "20"}, "depth", "20"),
        ({"norm": "bn"}, "norm", "bn"),
        ({"input_shape": (32, 32)}, "input_shape", (32, 32)),
        ({"input_shape": (32, 2, 3)}, "input_shape", (32, 2, 3)),
        ({"input_shape": (32, 32, 0)}, "input_shape", (32, 32, 0)),
        ({"shortcut": "B"}, "shortcut", "B"),
        ({"num_classes": 1}, "num_classes", 1),
        ({"width": 0}, "width", 0),
        ({"norm": "group", "groups": 3}, "groups", 3),
        ({"learning_rate": 0}, "learning_rate", 0),
    ],
)
def test_bad_arguments_name_the_argument_and_value(kwargs, argument, value):
    kwargs = {"depth": 8, **kwargs}
    with pytest.raises(
        ValueError,
        match=rf"`{argument}`.*Received: {argument}={value!r}".replace("(", r"\(").replace(
            ")", r"\)"
        ),
    ):
        ResNet(**kwargs)


def test_cli_trains_on_a_user_image_folder_with_task_options(tmp_path, capsys):
    from PIL import Image

    from keras_dlss.cli import main

    for label, name in enumerate(["dark", "light"]):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(6):
            pixels = np.full((9, 7, 3), 200 * label + i, "uint8")
            Image.fromarray(pixels).save(tmp_path / "images" / name / f"{i}.png")
    out = tmp_path / "out"
    argv = [
        "train",
        "resnet",
        "--data",
        str(tmp_path / "images"),
        "--epochs",
        "1",
        "--no-xla",
        "--no-export",
        "--depth",
        "8",
        "--width",
        "8",
        "--norm",
        "group",
        "--groups",
        "4",
        "--weight-standardization",
        "--plain",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["options"] == {
        "depth": 8,
        "width": 8,
        "norm": "group",
        "groups": 4,
        "weight_standardization": True,
        "plain": True,
    }
    assert metrics["train_examples"] == 10 and np.isfinite(metrics["train_loss"])
    model = keras.saving.load_model(out / "model.keras")
    assert type(model) is PlainNet and model.weight_standardization and model.num_classes == 2
    capsys.readouterr()
    assert main(["train", "mlp", "--depth", "3"]) == 2
    assert "unrecognized arguments: --depth 3 (mlp options: none)" in capsys.readouterr().err


def test_default_data_is_generated_shapes_in_disjoint_splits():
    task = get_task("resnet")
    data = task.load_data(seed=0)
    assert [len(split[0]) for split in (data.train, data.validation, data.test)] == [
        4000,
        1000,
        1000,
    ]
    assert data.info["image_shape"] == [32, 32, 3] and len(data.info["classes"]) == 10
    assert not np.array_equal(data.train[0][:5], data.test[0][:5])
    assert task.data_license == "generated"
