"""The 3D recognition networks: PointNet, DGCNN, VoxNet, MultiViewCNN, LateFusion3D.

Exports: PointNet and the late-fusion model (dict inputs) are exported to ONNX here;
SavedModel and ONNX exports of the four CLI applications (pointnet, dgcnn, voxnet,
mvcnn) run in every cell of tests/test_backend_matrix.py.
"""

import os

import keras
import numpy as np
import pytest

from keras_dlss.applications import DGCNN, LateFusion3D, MultiViewCNN, PointNet, VoxNet
from keras_dlss.datasets import point_clouds, render_depth_views, shade_views, voxelize
from keras_dlss.export import export_and_compare

X, Y = point_clouds(8, num_points=32, seed=0, rotation="so3")
XS, YS = point_clouds(4, num_points=32, seed=0, task="segment")
PERM = np.random.default_rng(1).permutation(32)


@pytest.fixture(scope="module")
def pointnet():
    keras.utils.set_random_seed(0)
    model = PointNet(10, width=0.125)
    # Batch-norm statistics away from their (0, 1) start, so inference is not near-trivial.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(np.random.default_rng(n).normal(size=n).astype("float32"))
            layer.moving_variance.assign(
                np.random.default_rng(n).uniform(0.5, 2, n).astype("float32")
            )
    return model


def _predict(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def test_pointnet_is_invariant_to_point_order(pointnet):
    np.testing.assert_allclose(_predict(pointnet, X[:, PERM]), _predict(pointnet, X), atol=1e-6)
    # Any number of points: the robustness experiment evaluates on fewer points than trained.
    assert _predict(pointnet, X[:, :7]).shape == (8, 10)


def test_pointnet_segmentation_is_permutation_equivariant():
    model = PointNet(10, task="segment", width=0.125)
    out = _predict(model, XS)
    assert out.shape == (4, 32, 10)
    np.testing.assert_allclose(_predict(model, XS[:, PERM]), out[:, PERM], atol=1e-6)
    model = DGCNN(10, k=4, task="segment", width=0.125)
    out = _predict(model, XS)
    np.testing.assert_allclose(_predict(model, XS[:, PERM]), out[:, PERM], atol=1e-5)


def test_feature_transform_adds_the_orthogonality_loss():
    with_ft = PointNet(10, width=0.125)
    with_ft(X)
    assert len(with_ft.losses) == 1
    without = PointNet(10, width=0.125, input_transform=False, feature_transform=False)
    without(X)
    assert not without.losses
    assert without.count_params() < with_ft.count_params()


def test_pointnet_save_load_and_exports(pointnet, tmp_path):
    path = os.path.join(tmp_path, "pointnet.keras")
    pointnet.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(_predict(restored, X), _predict(pointnet, X), atol=1e-6)
    if keras.config.backend() == "tensorflow":
        assert export_and_compare(pointnet, str(tmp_path / "p.onnx"), X[:4], format="onnx") < 1e-5


def test_dgcnn_save_load(tmp_path):
    model = DGCNN(10, num_points=32, k=4, width=0.125)
    assert _predict(model, X).shape == (8, 10)
    np.testing.assert_allclose(_predict(model, X[:, PERM]), _predict(model, X), atol=1e-5)
    model.save(str(tmp_path / "d.keras"))
    restored = keras.saving.load_model(str(tmp_path / "d.keras"))
    np.testing.assert_allclose(_predict(restored, X), _predict(model, X), atol=1e-6)


def test_voxnet_multiview_and_late_fusion(tmp_path):
    vox = VoxNet(10, grid=16, width=0.25)
    assert _predict(vox, voxelize(X, grid=16)).shape == (8, 10)
    depth = render_depth_views(X, views=3, image_size=16)
    mvcnn = MultiViewCNN(10, views=3, image_size=16, width=0.25)
    out = _predict(mvcnn, depth)
    assert out.shape == (8, 10)
    # View pooling is a max over views: the order of the views does not matter.
    np.testing.assert_allclose(_predict(mvcnn, depth[:, ::-1]), out, atol=1e-6)
    fusion = LateFusion3D(10, views=3, image_size=16, width=0.25)
    inputs = {"depth": depth[:4], "image": shade_views(depth[:4])}
    probs = _predict(fusion, inputs)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    fusion.save(str(tmp_path / "f.keras"))
    restored = keras.saving.load_model(str(tmp_path / "f.keras"))
    np.testing.assert_allclose(_predict(restored, inputs), probs, atol=1e-6)
    if keras.config.backend() == "tensorflow":
        assert export_and_compare(fusion, str(tmp_path / "f.onnx"), inputs, format="onnx") < 1e-5


BAD = [
    (lambda: DGCNN(10, num_points=16, k=16), "k"),
    (lambda: PointNet(10, task="detect"), "task"),
    (lambda: PointNet(1), "num_classes"),
    (lambda: PointNet(10, width=0), "width"),
    (lambda: VoxNet(10, grid=8), "grid"),
    (lambda: MultiViewCNN(10, views=0), "views"),
    (lambda: LateFusion3D(10, image_size=4), "image_size"),
]


def test_bad_arguments():
    for thunk, arg in BAD:
        with pytest.raises(ValueError, match=f"`{arg}`.*Received"):
            thunk()
