"""`keras-dlss explain`: attribution heat maps of a saved model's inputs, as a PNG.

INPUT is a `.npy` file (one example or a batch) or `sample`, the sample batch
`train` saved beside the model. The explained class is each example's
predicted class unless `--target` names one.
"""

from keras_dlss.cli._common import UsageError, command, load_model, positive_int, readable_path

METHODS = ("ig", "smoothgrad", "gradcam", "occlusion", "saliency")


@command("explain", "write attribution heat maps (ig, smoothgrad, gradcam, occlusion) as a PNG")
def configure(parser):
    parser.add_argument("model", type=readable_path, help="path to MODEL.keras")
    parser.add_argument("input", help="a .npy file of inputs, or `sample` (saved beside the model)")
    parser.add_argument("--method", choices=METHODS, default="ig")
    parser.add_argument("--out", required=True, help="output .png file")
    parser.add_argument("--target", type=int, default=None, help="class index (default: predicted)")
    parser.add_argument("--layer", default=None, help="Grad-CAM layer (default: last spatial one)")
    parser.add_argument(
        "--steps", type=positive_int, default=32, help="IG steps / SmoothGrad samples"
    )
    parser.add_argument("--window", type=positive_int, default=None, help="occlusion window side")
    parser.add_argument("--limit", type=positive_int, default=8, help="explain at most N inputs")
    parser.set_defaults(run=run)


def _inputs(args, rank):
    import numpy as np

    from keras_dlss.cli import artifacts

    if args.input == "sample":
        x = artifacts.load_sample_beside(args.model)
        if x is None or isinstance(x, list):
            raise UsageError(f"no single-array sample batch beside {args.model!r}")
    else:
        try:
            x = np.load(args.input)
        except (OSError, ValueError) as e:
            raise UsageError(f"could not read {args.input!r} as .npy: {e}") from None
    x = np.asarray(x, "float32")
    if x.ndim == rank - 1:  # one example without its batch axis
        x = x[None]
    return x[: args.limit]


def _attributions(interpret, model, x, target, args):

    if args.method == "ig":
        return interpret.integrated_gradients(model, x, target, steps=args.steps)[0]
    if args.method == "smoothgrad":
        return interpret.smoothgrad(model, x, target, num_samples=args.steps)
    if args.method == "saliency":
        return interpret.saliency(model, x, target)
    if args.method == "gradcam":
        from keras_dlss.interpret.grad_cam import spatial_layer_names

        names = spatial_layer_names(model)
        if not names:
            raise UsageError("the model has no layer with spatial outputs for Grad-CAM")
        return interpret.grad_cam(model, x, target, args.layer or names[-1])
    side = args.window or max(1, int(x.shape[1]) // 4)
    window = (side,) * (x.ndim - 1)
    if x.ndim == 4:
        window = (side, side, int(x.shape[-1]))
    strides = tuple(max(1, w // 2) for w in window)
    return interpret.occlusion(model, x, target, window, strides=strides, sets_per_batch=64)


def run(args):
    import numpy as np
    from keras import ops

    from keras_dlss import interpret

    if not args.out.endswith(".png"):
        raise UsageError(f"--out must be a .png file, got {args.out!r}")
    model = load_model(args.model)
    x = _inputs(args, len(model.inputs[0].shape))
    probs = np.asarray(ops.convert_to_numpy(model(x, training=False)))
    target = probs.argmax(-1) if args.target is None else args.target
    attributions = _attributions(interpret, model, x, target, args)
    titles = [f"class {int(t)}" for t in np.broadcast_to(target, (len(x),))]
    interpret.plot_attributions(x, ops.convert_to_numpy(attributions), args.out, titles=titles)
    print(f"wrote {args.out} ({args.method}, {len(x)} input(s))")
    return 0
