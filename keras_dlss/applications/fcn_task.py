"""`keras-dlss train fcn`: the curriculum's segmentation workflow on generated shapes.

Pre-train a small classifier on the shapes' classes, convert its Flatten +
Dense head to convolutions (`to_fully_convolutional`), build FCN-8s on the
converted network and fine-tune it on the segmentation masks
(`shapes(task="segment")`, 0 = background, class + 1 on the shape). The test
metrics include mean IoU with and without a dense CRF applied at inference
(`layers.DenseCRF`, mean field on the logits and the image), and
`overlays.png` shows image, truth, FCN and FCN + CRF side by side.
"""

import os

import keras
import numpy as np

from keras_dlss.applications.base import Task, TaskData
from keras_dlss.applications.fcn import FCN, conv_backbone
from keras_dlss.applications.fully_convolutional import to_fully_convolutional

IMAGE_SIZE = 32
NUM_SHAPES = 4  # circle, square, triangle, star: four classes plus background
# Mean-field settings of the inference-only CRF (chosen on validation shapes in
# benchmarks/segmentation.py; see docs/segmentation.md).
CRF_SETTINGS = {
    "iterations": 5,
    "spatial_weight": 1.0,
    "spatial_sigma": 1.0,
    "bilateral_weight": 2.0,
    "bilateral_spatial_sigma": 4.0,
    "bilateral_color_sigma": 0.15,
}


def load_segmentation(path=None, seed=0, n=1200, image_size=IMAGE_SIZE, num_shapes=NUM_SHAPES):
    """Generated shapes (or a user `.npz` with `x` images and `y` masks) split 70/10/20."""
    if path is None:
        from keras_dlss.datasets import shapes

        x, y = shapes(n, image_size, num_shapes, task="segment", seed=seed)
        source = f"generated shapes ({n} images, {image_size}x{image_size}, {num_shapes} classes)"
        names = ["background", "circle", "square", "triangle", "star"][: num_shapes + 1]
    else:
        with np.load(path) as f:
            if "x" not in f or "y" not in f:
                raise ValueError(
                    "Argument `data` must be an .npz with arrays 'x' (images) and 'y' (masks). "
                    f"Received: {path} with {sorted(f.files)}"
                )
            x, y = f["x"].astype("float32"), f["y"].astype("int32")
        if x.ndim != 4 or y.shape != x.shape[:3] or x.shape[1] % 32 or x.shape[2] % 32:
            raise ValueError(
                "Argument `data` must hold x [n, H, W, C] and y [n, H, W] with H and W "
                f"multiples of 32. Received: x.shape={x.shape}, y.shape={y.shape}"
            )
        source = str(path)
        names = [str(i) for i in range(int(y.max()) + 1)]
    n_test, n_val = len(x) // 5, len(x) // 10
    test, val, train = slice(0, n_test), slice(n_test, n_test + n_val), slice(n_test + n_val, None)
    info = {"source": source, "classes": names, "image_shape": list(x.shape[1:])}
    return TaskData((x[train], y[train]), (x[val], y[val]), (x[test], y[test]), info)


def pretrained_fcn(data, width=16, pretrain_epochs=2, jit_compile=True, variant="8s"):
    """Pre-train a classifier on the masks' shape classes, convert it, and build an FCN."""
    x, masks = data.train
    labels = masks.reshape(len(masks), -1).max(-1) - 1  # the visible shape's class
    num_classes = len(data.info["classes"])
    backbone = conv_backbone(x.shape[1:], width=width)
    h = keras.layers.Flatten(name="flatten")(backbone.output)
    h = keras.layers.Dense(8 * width, activation="relu", name="fc6")(h)
    scores = keras.layers.Dense(num_classes - 1, activation="softmax", name="fc7")(h)
    classifier = keras.Model(backbone.inputs, scores, name="classifier")
    if pretrain_epochs:
        classifier.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=jit_compile
        )
        classifier.fit(x, labels, epochs=pretrain_epochs, batch_size=32, verbose=0)
    converted = to_fully_convolutional(classifier)
    return FCN(converted, num_classes, variant, feature_layers=("pool3", "pool4", "fc6"))


def compile_segmenter(model, num_classes, jit_compile=True, learning_rate=1e-3):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.MeanIoU(num_classes, sparse_y_pred=False, name="mean_iou")],
        jit_compile=jit_compile,
    )
    return model


def crf_refine(logits, images, **settings):
    """Argmax labels after inference-only dense CRF mean field on `logits`."""
    from keras_dlss.ops import dense_crf_mean_field

    refined = dense_crf_mean_field(logits, images, **{**CRF_SETTINGS, **settings})
    return np.asarray(keras.ops.convert_to_numpy(refined)).argmax(-1)


PALETTE = (
    np.array(
        [[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48]]
        + [[145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212]],
        "float32",
    )
    / 255.0
)


def overlay(image, labels, alpha=0.55):
    """Labels coloured over the image (background left as is)."""
    colours = PALETTE[np.asarray(labels) % len(PALETTE)]
    mix = (1 - alpha) * image[..., :3] + alpha * colours
    return np.where(np.asarray(labels)[..., None] > 0, mix, image[..., :3])


def save_overlays(path, images, truth, panels, titles):
    """One row per image: the image, the truth, and one overlay per entry of `panels`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = len(images), 2 + len(panels)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows), squeeze=False)
    for r in range(rows):
        pictures = [images[r], overlay(images[r], truth[r])]
        pictures += [overlay(images[r], p[r]) for p in panels]
        for c, picture in enumerate(pictures):
            axes[r, c].imshow(np.clip(picture, 0, 1), interpolation="nearest")
            axes[r, c].axis("off")
            if r == 0:
                axes[r, c].set_title((["image", "truth"] + list(titles))[c], fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


class FCNTask(Task):
    name = "fcn"
    summary = "FCN-8s from a pre-trained, converted classifier (segmentation; dense CRF overlays)"
    default_data = "generated shapes with segmentation masks (1,200 images, 32x32, 4 classes)"
    data_license = "generated"
    default_epochs = 30
    default_batch_size = 32
    monitor = "val_loss"
    patience = 5

    def load_data(self, path=None, seed=0):
        return load_segmentation(path, seed)

    def build_model(self, data, *, jit_compile=True, seed=0, **hparams):
        width = hparams.get("width", 16)
        pretrain = hparams.get("pretrain_epochs", 2)
        model = pretrained_fcn(data, width, pretrain, jit_compile, hparams.get("variant", "8s"))
        return compile_segmenter(model, len(data.info["classes"]), jit_compile)

    def _predictions(self, model, x):
        logits = model.predict(x, batch_size=32, verbose=0)
        labels = logits.argmax(-1)
        refined = np.concatenate(
            [crf_refine(logits[i : i + 32], x[i : i + 32]) for i in range(0, len(x), 32)]
        )
        return labels, refined

    def evaluate(self, model, data):
        from keras_dlss.metrics import boundary_f_score, per_class_iou

        metrics = super().evaluate(model, data)
        x, y = data.test
        num_classes = len(data.info["classes"])
        labels, refined = self._predictions(model, x)
        metrics["test_mean_iou_crf"] = per_class_iou(y, refined, num_classes).mean_iou
        metrics["test_boundary_f"] = boundary_f_score(y, labels)
        metrics["test_boundary_f_crf"] = boundary_f_score(y, refined)
        return metrics

    def tensorboard_images(self, model, data):
        x = data.test[0][:4]
        labels, refined = self._predictions(model, x)
        return {
            "overlay/fcn": np.stack([overlay(im, lab) for im, lab in zip(x, labels)]),
            "overlay/fcn_crf": np.stack([overlay(im, lab) for im, lab in zip(x, refined)]),
        }

    def save_artifacts(self, model, data, out_dir):
        x, y = data.test
        x, y = x[:6], y[:6]
        labels, refined = self._predictions(model, x)
        path = os.path.join(out_dir, "overlays.png")
        return [save_overlays(path, x, y, [labels, refined], ["FCN-8s", "FCN-8s + CRF"])]
