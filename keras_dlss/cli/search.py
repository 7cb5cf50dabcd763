"""`keras-dlss search darts`: differentiable architecture search on the embedded `shapes` images.

Runs DARTS (Liu et al. 2019) end to end: the search network is trained by
`training.DARTSSearch` on two halves of the training images (weights on one,
architecture on the other), the genotype is derived and written to
`DIR/genotype.json`, the discrete network is retrained briefly on all the
training images, and its test accuracy goes to `DIR/metrics.json` beside
`DIR/model.keras`. The functions below are also what
`benchmarks/darts_vs_random.py` runs, so the benchmark's DARTS arm is the
command's pipeline.

Only the standard library is imported here: `keras-dlss --help` must stay fast.
"""

import json
import os
import time

from keras_dlss.cli._common import command, import_keras, positive_int


@command("search", "architecture search (DARTS) on embedded shapes; writes genotype.json")
def configure(parser):
    parser.add_argument("method", choices=["darts"], help="search method")
    parser.add_argument(
        "--order",
        type=int,
        choices=[1, 2],
        default=1,
        help="1: first-order DARTS, 2: second-order (unrolled)",
    )
    parser.add_argument("--epochs", type=positive_int, default=10, help="search epochs")
    parser.add_argument("--retrain-epochs", type=positive_int, default=10)
    parser.add_argument("--out", default="out/darts", help="output directory")
    parser.add_argument(
        "--limit",
        type=positive_int,
        default=2000,
        help="training images (halved for the search), and test images / 2",
    )
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--image-size", type=positive_int, default=32)
    parser.add_argument("--num-classes", type=positive_int, default=10)
    parser.add_argument("--channels", type=positive_int, default=8)
    parser.add_argument("--cells", type=positive_int, default=5)
    parser.add_argument("--steps", type=positive_int, default=4, help="nodes per cell")
    parser.add_argument("--no-xla", action="store_true", help="compile without XLA")
    parser.add_argument(
        "--run-eagerly",
        action="store_true",
        help="no graph at all: faster than tracing for tiny smoke runs",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=run)


def load_shapes(limit, image_size, num_classes, seed):
    """`(x_train, y_train), (x_test, y_test)` of `datasets.shapes`; test has `limit // 2`."""
    from keras_dlss.datasets import shapes

    train = shapes(limit, image_size=image_size, num_classes=num_classes, seed=seed)
    test = shapes(
        max(limit // 2, 1), image_size=image_size, num_classes=num_classes, seed=seed + 10_000
    )
    return train, test


def network_kwargs(args_or_dict, input_shape, num_classes):
    get = args_or_dict.get if isinstance(args_or_dict, dict) else args_or_dict.__getattribute__
    return {
        "num_classes": num_classes,
        "input_shape": input_shape,
        "channels": get("channels"),
        "num_cells": get("cells"),
        "steps": get("steps"),
    }


def darts_search(train, kwargs, order, epochs, batch_size, jit_compile, seed=0, run_eagerly=False):
    """Searches with DARTS; returns `(genotype, seconds)`. `train` is split in halves."""
    keras = import_keras()
    from keras_dlss.applications import DARTSNetwork
    from keras_dlss.training import DARTSSearch

    keras.utils.set_random_seed(seed)
    x, y = train
    half = len(x) // 2
    net = DARTSNetwork(**kwargs)
    search = DARTSSearch(net, order=order)
    steps = max(1, epochs * (half // batch_size))
    # The paper's settings: SGD momentum 0.9, cosine-decayed 0.025; Adam(beta_1=0.5) for alpha.
    search.compile(
        optimizer=keras.optimizers.SGD(
            keras.optimizers.schedules.CosineDecay(0.05, steps), momentum=0.9
        ),
        architecture_optimizer=keras.optimizers.Adam(3e-3, beta_1=0.5),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit_compile and not run_eagerly,
        run_eagerly=run_eagerly,
    )
    start = time.perf_counter()
    search.fit(
        x=(x[:half], x[half : 2 * half]),
        y=(y[:half], y[half : 2 * half]),
        batch_size=batch_size,
        epochs=epochs,
        verbose=0,
    )
    return net.derive_genotype(), time.perf_counter() - start


def retrain(
    genotype, train, test, kwargs, epochs, batch_size, jit_compile, seed=0, run_eagerly=False
):
    """Trains the discrete network of `genotype`; returns `(model, test_accuracy, seconds)`."""
    keras = import_keras()
    from keras_dlss.applications import DARTSNetwork

    keras.utils.set_random_seed(seed)
    model = DARTSNetwork.from_genotype(genotype, **kwargs)
    steps = max(1, epochs * (len(train[0]) // batch_size))
    model.compile(
        optimizer=keras.optimizers.SGD(
            keras.optimizers.schedules.CosineDecay(0.05, steps), momentum=0.9
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit_compile and not run_eagerly,
        run_eagerly=run_eagerly,
    )
    start = time.perf_counter()
    model.fit(*train, batch_size=batch_size, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(*test, batch_size=256, verbose=0)
    return model, float(accuracy), seconds


def run(args):
    import_keras()
    train, test = load_shapes(args.limit, args.image_size, args.num_classes, args.seed)
    kwargs = network_kwargs(args, (args.image_size, args.image_size, 3), args.num_classes)
    jit = not args.no_xla
    genotype, search_seconds = darts_search(
        train,
        kwargs,
        args.order,
        args.epochs,
        args.batch_size,
        jit,
        args.seed,
        args.run_eagerly,
    )
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "genotype.json"), "w") as f:
        json.dump(genotype, f, indent=1)
    print(f"genotype (order {args.order}, {search_seconds:.1f} s): {json.dumps(genotype)}")
    model, accuracy, retrain_seconds = retrain(
        genotype,
        train,
        test,
        kwargs,
        args.retrain_epochs,
        args.batch_size,
        jit,
        args.seed,
        args.run_eagerly,
    )
    model.save(os.path.join(args.out, "model.keras"))
    metrics = {
        "method": "darts",
        "order": args.order,
        "test_accuracy": accuracy,
        "search_seconds": search_seconds,
        "retrain_seconds": retrain_seconds,
        "search_epochs": args.epochs,
        "retrain_epochs": args.retrain_epochs,
        "network": kwargs,
        "genotype": genotype,
    }
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1, default=list)
    print(f"test accuracy of the retrained network: {accuracy:.4f}")
    print(f"wrote: {args.out}/genotype.json, {args.out}/model.keras, {args.out}/metrics.json")
    return 0
