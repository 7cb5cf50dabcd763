"""CLI recipes `keras-dlss train pointnet|dgcnn|voxnet|mvcnn` (3D recognition).

The four applications share one `PointCloudTask`: the same generated clouds
(`keras_dlss.datasets.point_clouds`: ten primitives, rotated about z, jittered)
or a user's `--data FOLDER` of class folders of `.off`/`.ply`/`.xyz` files
(ModelNet's layout), the same split and training recipe; each subclass only
says how a cloud is shown to its network (`represent`: points, an occupancy
grid, or rendered depth views) and which network to build. Defaults are sized
for a CPU: 512 points, half-width networks, a few minutes of training.

`keras-dlss predict APP MODEL.keras FILE.off ...` classifies 3D files.
"""

import numpy as np

from keras_dlss.applications.base import Task, TaskData

NUM_CLOUDS = 1500
DEFAULT_DATA = (
    "keras_dlss.datasets.point_clouds: 1,500 generated clouds of 10 primitives, rotated about z, "
    "jittered (or --data FOLDER of class folders of .off/.ply/.xyz files, ModelNet's layout)"
)


def _split(x, y, seed, test_fraction=0.2, validation_fraction=0.1):
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order], y[order]
    n_test = max(1, int(len(y) * test_fraction))
    n_val = max(1, int((len(y) - n_test) * validation_fraction))
    parts = (slice(n_test + n_val, None), slice(n_test, n_test + n_val), slice(0, n_test))
    return [(x[p], y[p]) for p in parts]


class PointCloudTask(Task):
    """Shared recipe of the 3D classifiers; subclasses set `represent` and `make_model`."""

    data_license = "generated"
    default_data = DEFAULT_DATA
    default_epochs = 40
    default_batch_size = 32
    monitor = "val_loss"
    patience = 8
    num_points = 512
    options = {
        "width": {"type": float, "help": "width multiplier of every layer (default 0.5)"},
        "learning-rate": {"type": float, "help": "Adam learning rate (default 1e-3)"},
    }

    def load_clouds(self, path, seed):
        from keras_dlss.datasets import point_cloud_folder, point_clouds

        if path is None:
            from keras_dlss.datasets.point_clouds import PRIMITIVE_NAMES

            x, y = point_clouds(NUM_CLOUDS, self.num_points, rotation="z", noise=0.01, seed=seed)
            return x, y, list(PRIMITIVE_NAMES), "generated primitives (point_clouds)"
        x, y, classes = point_cloud_folder(path, self.num_points, seed)
        return x, y, classes, str(path)

    def represent(self, points):
        """The network's input for clouds `[n, num_points, 3]`."""
        return points

    def make_model(self, num_classes, **hparams):
        raise NotImplementedError

    def load_data(self, path=None, seed=0):
        x, y, classes, source = self.load_clouds(path, seed)
        train, validation, test = [(self.represent(a), b) for a, b in _split(x, y, seed)]
        info = {"classes": classes, "num_points": self.num_points, "source": source}
        return TaskData(train, validation, test, info)

    def build_model(self, data, *, jit_compile=True, seed=0, learning_rate=1e-3, **hparams):
        import keras

        hparams = {"width": 0.5, **{k: v for k, v in hparams.items() if v is not None}}
        model = self.make_model(len(data.info["classes"]), **hparams)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=jit_compile,
        )
        return model

    def search_space(self, hp):
        return {
            "width": hp.Choice("width", [0.25, 0.5, 1.0]),
            "learning_rate": hp.Float("learning_rate", 1e-4, 1e-2, sampling="log"),
        }

    def predict(self, model, inputs, metadata):
        from keras_dlss.datasets import load_point_cloud

        clouds = np.stack([load_point_cloud(p, metadata["num_points"]) for p in inputs])
        probs = model.predict(self.represent(clouds), verbose=0)
        classes = metadata["classes"]
        return [f"{classes[int(i)]} (p={p[i]:.3f})" for p, i in zip(probs, probs.argmax(-1))]


class PointNetTask(PointCloudTask):
    name = "pointnet"
    summary = "PointNet with input and feature T-Nets (3D: points directly); --width, --no-tnet"
    options = {
        **PointCloudTask.options,
        "no-tnet": {"action": "store_true", "help": "without the two T-Nets"},
    }

    def make_model(self, num_classes, no_tnet=False, **hparams):
        from keras_dlss.applications.pointnet import PointNet

        return PointNet(
            num_classes, input_transform=not no_tnet, feature_transform=not no_tnet, **hparams
        )


class DGCNNTask(PointCloudTask):
    name = "dgcnn"
    summary = "DGCNN: EdgeConv on dynamic k-NN graphs (3D graph network); --width, --k"
    num_points = 256
    options = {**PointCloudTask.options, "k": {"type": int, "help": "neighbours (default 16)"}}

    def make_model(self, num_classes, k=16, **hparams):
        from keras_dlss.applications.dgcnn import DGCNN

        return DGCNN(num_classes, num_points=self.num_points, k=k, **hparams)


class VoxNetTask(PointCloudTask):
    name = "voxnet"
    summary = "VoxNet: 3D convolution on 32^3 occupancy grids; --width"
    grid = 32

    def represent(self, points):
        from keras_dlss.datasets import voxelize

        return voxelize(points, grid=self.grid)

    def make_model(self, num_classes, **hparams):
        from keras_dlss.applications.voxnet import VoxNet

        return VoxNet(num_classes, grid=self.grid, **hparams)


class MultiViewCNNTask(PointCloudTask):
    name = "mvcnn"
    summary = "Multi-view CNN with view pooling on 12 rendered depth views; --width"
    views = 12
    image_size = 32

    def represent(self, points):
        from keras_dlss.datasets import render_depth_views

        return render_depth_views(points, views=self.views, image_size=self.image_size)

    def make_model(self, num_classes, **hparams):
        from keras_dlss.applications.multiview import MultiViewCNN

        return MultiViewCNN(num_classes, views=self.views, image_size=self.image_size, **hparams)
