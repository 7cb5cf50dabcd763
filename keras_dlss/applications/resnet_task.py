"""`keras-dlss train resnet`: a CIFAR-style ResNet on generated shapes or the user's images.

The default data is `keras_dlss.datasets.shapes` (ten geometric shape classes on
noisy backgrounds, generated: no download, no license), at 32x32 like CIFAR-10.
`--data FOLDER` trains on a folder-per-class image collection
(`FOLDER/<class>/<image>.png`, read by `datasets.image_folder` and resized to
32x32). The architecture comes from `--depth`, `--width`, `--norm`, `--groups`,
`--weight-standardization` and `--plain` (the `options` below, which
`keras-dlss train` passes to `build_model`).
"""

import numpy as np

from keras_dlss.applications.base import Task, TaskData

IMAGE_SIZE = 32
# Shapes at 32x32: the ResNet-20 default reaches ~90% test accuracy in about 15 epochs.
TRAIN_SIZE, VALIDATION_SIZE, TEST_SIZE = 4000, 1000, 1000
NORM_CHOICES = ("batch", "group", "instance", "layer", "none")


def load_images(path=None, seed=0, image_size=IMAGE_SIZE):
    """Train / validation / test splits of `shapes` (path None) or of an image folder.

    Generated shapes use a different seed per split, so no image repeats
    across splits. A folder is shuffled with `seed` and split 80 / 10 / 10.

    Args:
        path: None, or a folder with one subfolder of images per class.
        seed: int. Seed of the generated data or of the folder's shuffle.
        image_size: int. Side of the square images. Defaults to `32`.

    Returns:
        A `TaskData`; `info` holds `classes`, `image_shape` and `source`.
    """
    from keras_dlss.datasets import SHAPE_NAMES, image_folder, shapes

    if path is None:
        splits = [
            shapes(n, image_size=image_size, seed=seed * 3 + i)
            for i, n in enumerate((TRAIN_SIZE, VALIDATION_SIZE, TEST_SIZE))
        ]
        classes = list(SHAPE_NAMES)
        source = f"keras_dlss.datasets.shapes (generated, {image_size}x{image_size}, seed {seed})"
    else:
        x, y, classes = image_folder(path, image_size)
        if len(x) < 10 or len(classes) < 2:
            raise ValueError(
                "Argument `data` must hold at least 2 classes and 10 images. "
                f"Received: data={path!r} with {len(classes)} classes and {len(x)} images"
            )
        order = np.random.default_rng(seed).permutation(len(x))
        x, y = x[order], y[order]
        n_test = n_val = max(1, len(x) // 10)
        splits = [
            (x[n_test + n_val :], y[n_test + n_val :]),
            (x[n_test : n_test + n_val], y[n_test : n_test + n_val]),
            (x[:n_test], y[:n_test]),
        ]
        source = str(path)
    info = {"classes": classes, "image_shape": list(splits[0][0].shape[1:]), "source": source}
    return TaskData(*splits, info)


class ResNetTask(Task):
    name = "resnet"
    summary = (
        "ResNet / PlainNet (intro to CNNs: residual depth, batch vs group norm, weight "
        "standardization); --depth, --width, --norm, --groups, --weight-standardization, --plain"
    )
    default_data = (
        "keras_dlss.datasets.shapes: 6,000 generated 32x32 images of 10 shape classes "
        "(or --data FOLDER of class subfolders)"
    )
    data_license = "generated"
    default_epochs = 15
    default_batch_size = 64
    monitor = "val_loss"
    patience = 5
    # Architecture options `keras-dlss train resnet` accepts (argparse keyword arguments).
    options = {
        "depth": {"type": int, "help": "6n+2 layers: 20, 32, 56, 110 (default 20)"},
        "width": {"type": int, "help": "channels of the first stage (default 16)"},
        "norm": {"choices": NORM_CHOICES, "help": "normalization kind (default batch)"},
        "groups": {"type": int, "help": "groups of --norm group (default 8)"},
        "weight-standardization": {
            "action": "store_true",
            "help": "weight-standardized convolutions (with --norm group)",
        },
        "plain": {"action": "store_true", "help": "PlainNet: no skip connections"},
        "learning-rate": {"type": float, "help": "Nesterov SGD learning rate (default 0.05)"},
    }

    def load_data(self, path=None, seed=0):
        return load_images(path, seed)

    def build_model(self, data, *, jit_compile=True, seed=0, plain=False, **hparams):
        from keras_dlss.applications.resnet import PlainNet, ResNet

        hparams = {"depth": 20, **{k: v for k, v in hparams.items() if v is not None}}
        cls = PlainNet if plain else ResNet
        model = cls(
            num_classes=len(data.info["classes"]),
            input_shape=tuple(data.info["image_shape"]),
            **hparams,
        )
        model.compile(jit_compile=jit_compile)
        return model

    def search_space(self, hp):
        return {
            "depth": hp.Choice("depth", [8, 14, 20]),
            "norm": hp.Choice("norm", ["batch", "group"]),
            "weight_standardization": hp.Boolean("weight_standardization"),
            "learning_rate": hp.Float("learning_rate", 1e-2, 2e-1, sampling="log"),
        }
