"""FCN-32s vs 16s vs 8s vs 8s + dense CRF on generated shapes with boundary noise.

Each FCN is built the curriculum's way: a classifier pre-trained on the shapes'
classes, its Flatten + Dense head converted to convolutions
(`to_fully_convolutional`), then FCN-32s/16s/8s fine-tuned on the masks. The
training masks carry *boundary noise*: each pixel on a label boundary takes a
neighbour's label with probability `--boundary-noise`, the kind of sloppy
outline human annotation gives; the images carry per-pixel colour noise
(`shapes(background="noise")`). Validation and test masks are clean.

The dense CRF is evaluated two ways on FCN-8s:
* inference only: mean field on the trained FCN-8s logits, with kernel
  weights and bandwidths chosen on the validation split (a small grid);
* trained end to end: a `DenseCRF` layer (learned compatibility) stacked on
  FCN-8s and the whole model fine-tuned for a few more epochs (CRF-as-RNN).

Reported on the test split: mean IoU, and the boundary F-score (tolerance 1 px).

    python benchmarks/segmentation.py            # ~10 min on 2 loaded CPU cores
    python benchmarks/segmentation.py --quick    # ~2 min smoke run
"""

import argparse
import itertools
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_dlss.applications.fcn_task import (  # noqa: E402
    CRF_SETTINGS,
    compile_segmenter,
    load_segmentation,
    pretrained_fcn,
    save_overlays,
)
from keras_dlss.layers import DenseCRF  # noqa: E402
from keras_dlss.metrics import boundary_f_score, per_class_iou  # noqa: E402
from keras_dlss.ops import dense_crf_mean_field  # noqa: E402


def boundary_noise(masks, p, seed):
    """Each boundary pixel takes its right/down/left/up neighbour's label with probability p."""
    rng = np.random.default_rng(seed)
    out = masks.copy()
    shifts = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    choice = rng.integers(0, 4, masks.shape)
    flip = rng.random(masks.shape) < p
    for k, (dy, dx) in enumerate(shifts):
        neighbour = np.roll(masks, (dy, dx), axis=(1, 2))
        take = flip & (choice == k) & (neighbour != masks)
        out[take] = neighbour[take]
    return out


def scores(y, labels, num_classes):
    return per_class_iou(y, labels, num_classes).mean_iou, boundary_f_score(y, labels)


def crf_labels(logits, x, settings, batch=50):
    out = []
    for i in range(0, len(x), batch):
        refined = dense_crf_mean_field(logits[i : i + batch], x[i : i + batch], **settings)
        out.append(np.asarray(keras.ops.convert_to_numpy(refined)).argmax(-1))
    return np.concatenate(out)


def tune_crf(logits, x, y, num_classes):
    """Grid over bilateral weight / colour bandwidth / spatial weight on the validation split."""
    best = (scores(y, logits.argmax(-1), num_classes)[0], None)
    for w_b, sigma_c, w_s, sigma_xy in itertools.product(
        (1.0, 3.0), (0.1, 0.2), (0.0, 1.0), (2.0, 5.0)
    ):
        settings = {
            **CRF_SETTINGS,
            "bilateral_weight": w_b,
            "bilateral_color_sigma": sigma_c,
            "spatial_weight": w_s,
            "bilateral_spatial_sigma": sigma_xy,
        }
        miou = scores(y, crf_labels(logits, x, settings), num_classes)[0]
        if miou > best[0]:
            best = (miou, settings)
    return best[1] or CRF_SETTINGS


JIT = {"on": False}


def train(model, data, epochs, num_classes, lr=3e-3):
    compile_segmenter(model, num_classes, jit_compile=JIT["on"], learning_rate=lr)
    stop = keras.callbacks.EarlyStopping(patience=4, restore_best_weights=True)
    model.fit(
        *data.train,
        validation_data=data.validation,
        epochs=epochs,
        batch_size=32,
        callbacks=[stop],
        verbose=0,
    )
    return model


def end_to_end(fcn, data, epochs, num_classes, settings):
    """FCN-8s + DenseCRF (learned compatibility, trainable kernels) fine-tuned together."""
    image = keras.Input(data.train[0].shape[1:])
    crf = DenseCRF(
        iterations=5,
        compatibility="learned",
        **{k: v for k, v in settings.items() if k != "iterations"},
    )
    model = keras.Model(image, crf([fcn(image), image]))
    return train(model, data, epochs, num_classes, lr=2e-4)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1200)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--pretrain-epochs", type=int, default=5)
    parser.add_argument("--crf-epochs", type=int, default=3)
    parser.add_argument("--boundary-noise", type=float, default=0.5)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--xla", action="store_true", help="jit_compile=True (slower to start)")
    parser.add_argument("--overlays", default=None, help="write a PNG of test overlays here")
    args = parser.parse_args()
    if args.quick:
        args.n, args.epochs, args.pretrain_epochs, args.crf_epochs = 300, 2, 1, 1
    JIT["on"] = args.xla
    keras.utils.set_random_seed(0)
    data = load_segmentation(None, seed=0, n=args.n)
    x_train, y_train = data.train
    data.train = (x_train, boundary_noise(y_train, args.boundary_noise, seed=1))
    num_classes = len(data.info["classes"])
    x_val, y_val = data.validation
    x_test, y_test = data.test
    print(
        f"backend={keras.config.backend()} n={args.n} (train {len(x_train)}, val {len(x_val)}, "
        f"test {len(x_test)}), boundary noise p={args.boundary_noise}, "
        f"{args.epochs} epochs max; shared 2-core CPU machine"
    )
    rows, models, test_labels = [], {}, {}
    for variant in ("32s", "16s", "8s"):
        start = time.perf_counter()
        keras.utils.set_random_seed(0)
        model = pretrained_fcn(data, args.width, args.pretrain_epochs, JIT["on"], variant)
        train(model, data, args.epochs, num_classes)
        logits = model.predict(x_test, verbose=0)
        test_labels[variant] = logits.argmax(-1)
        rows.append(
            (
                f"FCN-{variant}",
                *scores(y_test, test_labels[variant], num_classes),
                time.perf_counter() - start,
            )
        )
        models[variant] = model
    start = time.perf_counter()
    fcn8 = models["8s"]
    settings = tune_crf(fcn8.predict(x_val, verbose=0), x_val, y_val, num_classes)
    test_labels["crf"] = crf_labels(fcn8.predict(x_test, verbose=0), x_test, settings)
    rows.append(
        (
            "FCN-8s + DenseCRF (inference only)",
            *scores(y_test, test_labels["crf"], num_classes),
            time.perf_counter() - start,
        )
    )
    start = time.perf_counter()
    joint = end_to_end(fcn8, data, args.crf_epochs, num_classes, settings)
    test_labels["joint"] = joint.predict(x_test, verbose=0).argmax(-1)
    rows.append(
        (
            "FCN-8s + DenseCRF (trained end to end)",
            *scores(y_test, test_labels["joint"], num_classes),
            time.perf_counter() - start,
        )
    )
    print(f"CRF settings chosen on validation: {settings}")
    print("| model | test mIoU | boundary F (1 px) | seconds |")
    print("|---|---|---|---|")
    base = rows[2][1]
    for name, miou, bf, seconds in rows:
        delta = (
            "" if name.startswith("FCN-") and "+" not in name else f" ({100 * (miou - base):+.1f})"
        )
        print(f"| {name} | {100 * miou:.1f}{delta} | {100 * bf:.1f} | {seconds:.0f} |")
    if args.overlays:
        save_overlays(
            args.overlays,
            x_test[:6],
            y_test[:6],
            [test_labels[k][:6] for k in ("32s", "8s", "crf", "joint")],
            ["FCN-32s", "FCN-8s", "8s + CRF", "8s + CRF e2e"],
        )
        print(f"wrote {args.overlays}")


if __name__ == "__main__":
    main()
