"""3D recognition side by side: PointNet (with / without T-Nets), DGCNN, VoxNet, MVCNN, late fusion.

One run trains every network on the same generated clouds (`point_clouds`: ten
primitives, uniform SO(3) rotations, Gaussian jitter) and prints, per model,
test accuracy, parameters and inference time per object; then part
segmentation mIoU on the composite objects (PointNet and DGCNN); then PointNet's
robustness as points are dropped at test time (100% -> 10%, the shape of Qi et
al. 2017, Fig. 6: the max-pooled global feature depends on a few "critical
points", so accuracy degrades gracefully).

    python benchmarks/recognition_3d.py                   # small: a few minutes on 2 cores
    python benchmarks/recognition_3d.py --train 4000 --epochs 40 --points 1024 --width 1

Every model sees the same clouds, in its own representation: points, a 32³
occupancy grid (`voxelize`), or 12 rendered depth views (`render_depth_views`;
late fusion adds their Lambertian shading, `shade_views`, as a second stream).
mIoU is the mean over the ten part labels of IoU pooled over all test points.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_dlss.applications import DGCNN, LateFusion3D, MultiViewCNN, PointNet, VoxNet  # noqa: E402
from keras_dlss.datasets import (  # noqa: E402
    PART_NAMES,
    point_clouds,
    render_depth_views,
    shade_views,
    voxelize,
)


def _compile(model, lr):
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=False,  # XLA compilation would dominate these short runs on CPU
    )
    return model


def _per_object_ms(model, x, repeats=3):
    n = len(x["depth"]) if isinstance(x, dict) else len(x)
    model.predict(x, batch_size=64, verbose=0)  # warm-up: tracing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(x, batch_size=64, verbose=0)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times)) / n


def _fit(model, x, y, args):
    model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
    return model


def classification(args):
    kw = {"num_points": args.points, "rotation": args.rotation, "noise": args.noise}
    x_train, y_train = point_clouds(args.train, seed=1, **kw)
    x_test, y_test = point_clouds(args.test, seed=2, **kw)
    depth_train = render_depth_views(x_train, views=args.views, image_size=32)
    depth_test = render_depth_views(x_test, views=args.views, image_size=32)
    w = args.width
    arms = {
        "PointNet": (lambda: PointNet(10, width=w), x_train, x_test),
        "PointNet, no T-Nets": (
            lambda: PointNet(10, width=w, input_transform=False, feature_transform=False),
            x_train,
            x_test,
        ),
        "DGCNN": (lambda: DGCNN(10, num_points=args.points, k=args.k, width=w), x_train, x_test),
        "VoxNet (32^3)": (
            lambda: VoxNet(10, grid=32, width=2 * w),
            voxelize(x_train, 32),
            voxelize(x_test, 32),
        ),
        f"MVCNN ({args.views} depth views)": (
            lambda: MultiViewCNN(10, views=args.views, width=w),
            depth_train,
            depth_test,
        ),
        "Late fusion (depth + shaded)": (
            lambda: LateFusion3D(10, views=args.views, width=w),
            {"depth": depth_train, "image": shade_views(depth_train)},
            {"depth": depth_test, "image": shade_views(depth_test)},
        ),
    }
    rows, models = [], {}
    for name, (build, xtr, xte) in arms.items():
        if args.only and not any(o.lower() in name.lower() for o in args.only):
            continue
        keras.utils.set_random_seed(0)
        start = time.perf_counter()
        model = _fit(_compile(build(), args.lr), xtr, y_train, args)
        seconds = time.perf_counter() - start
        accuracy = model.evaluate(xte, y_test, verbose=0, return_dict=True)["accuracy"]
        ms = _per_object_ms(model, xte)
        rows.append((name, accuracy, model.count_params(), ms, seconds))
        models[name] = model
        print(f"  {name}: {accuracy:.3f} ({seconds:.0f} s)", flush=True)
    print(
        f"\nClassification: 10 primitives, {args.points} points, rotation={args.rotation}, "
        f"noise={args.noise}, {args.train} train / {args.test} test, {args.epochs} epochs, "
        f"width {w}, backend {keras.config.backend()}\n"
    )
    print("| model | test accuracy | parameters | inference ms/object | train s |")
    print("|---|---|---|---|---|")
    for name, acc, params, ms, seconds in rows:
        print(f"| {name} | {acc:.3f} | {params:,} | {ms:.2f} | {seconds:.0f} |")
    return models, (x_test, y_test)


def _miou(probabilities, labels, num_classes):
    pred = probabilities.argmax(-1).ravel()
    labels = labels.ravel()
    ious = []
    for c in range(num_classes):
        union = np.sum((pred == c) | (labels == c))
        if union:
            ious.append(np.sum((pred == c) & (labels == c)) / union)
    return float(np.mean(ious))


def segmentation(args):
    kw = {"num_points": args.points, "rotation": "z", "noise": args.noise, "task": "segment"}
    x_train, y_train = point_clouds(args.train, seed=3, **kw)
    x_test, y_test = point_clouds(args.test, seed=4, **kw)
    parts = len(PART_NAMES)
    arms = {
        "PointNet (segmentation)": lambda: PointNet(parts, task="segment", width=args.width),
        "DGCNN (segmentation)": lambda: DGCNN(parts, task="segment", k=args.k, width=args.width),
    }
    print(
        f"\nPart segmentation: 4 composite objects, 10 parts, {args.points} points, rotation=z, "
        f"{args.train} train / {args.test} test, {args.epochs} epochs\n"
    )
    print("| model | point accuracy | mIoU (10 parts) | parameters |")
    print("|---|---|---|---|")
    for name, build in arms.items():
        keras.utils.set_random_seed(0)
        model = _fit(_compile(build(), args.lr), x_train, y_train, args)
        probs = model.predict(x_test, batch_size=64, verbose=0)
        accuracy = float(np.mean(probs.argmax(-1) == y_test))
        print(
            f"| {name} | {accuracy:.3f} | {_miou(probs, y_test, parts):.3f} | {model.count_params():,} |",
            flush=True,
        )


def robustness(model, x_test, y_test):
    print("\nPointNet robustness: random points kept at test time (trained on all of them)\n")
    print("| points kept | " + " | ".join(f"{f:.0%}" for f in FRACTIONS) + " |")
    print("|---|" + "---|" * len(FRACTIONS))
    rng = np.random.default_rng(0)
    accuracies = []
    for fraction in FRACTIONS:
        keep = max(1, int(round(fraction * x_test.shape[1])))
        idx = np.argsort(rng.random(x_test.shape[:2]), axis=1)[:, :keep]
        subset = np.take_along_axis(x_test, idx[..., None], axis=1)
        accuracies.append(model.evaluate(subset, y_test, verbose=0, return_dict=True)["accuracy"])
    print("| accuracy | " + " | ".join(f"{a:.3f}" for a in accuracies) + " |")


FRACTIONS = (1.0, 0.75, 0.5, 0.25, 0.1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--test", type=int, default=300)
    parser.add_argument("--points", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--views", type=int, default=12)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--noise", type=float, default=0.01)
    parser.add_argument("--rotation", default="so3", choices=("none", "z", "so3"))
    parser.add_argument(
        "--only", nargs="*", help="run only the arms whose name contains one of these"
    )
    parser.add_argument("--skip-segmentation", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    models, (x_test, y_test) = classification(args)
    if "PointNet" in models:
        robustness(models["PointNet"], x_test, y_test)
    if not args.skip_segmentation:
        segmentation(args)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
