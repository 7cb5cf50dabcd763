"""`keras-dlss visualize`: look inside a trained image model, one PNG per call.

    keras-dlss visualize maximize MODEL.keras --layer conv3 --unit 5 --out unit5.png
    keras-dlss visualize invert   MODEL.keras --layer conv2 --image astronaut --out inv.png
    keras-dlss visualize dream    MODEL.keras --layers conv2,conv3 --image PHOTO.jpg --out dream.png
    keras-dlss visualize style    --content astronaut --style coffee --out style.png [--model VGG.keras]

MODEL is any `.keras` functional or `Sequential` image model (a CNN trained by
`keras-dlss train`, or your own). `--image` takes a file or the name of a
scikit-image photograph (`keras-dlss visualize invert --help` lists them).
Images are resized to the model's input size when it is fixed, else to
`--size`, and converted to the model's channel count. Without `--model`,
`style` uses `keras_dlss.visualization.random_feature_extractor` (random
weights; He, Wang and Hopcroft, 2016). A wrong layer name lists the valid ones.
"""

from keras_dlss.cli._common import command, positive_int, readable_path
from keras_dlss.cli._common import load_model as _load_keras_model

_PHOTOS = "astronaut, camera, chelsea, coffee, coins, moon, rocket"


def _common(parser, model=True):
    if model:
        parser.add_argument("model", type=readable_path, help="path to MODEL.keras")
    parser.add_argument("--out", required=True, help="output PNG file")
    parser.add_argument("--steps", type=positive_int, default=None, help="optimizer steps")
    parser.add_argument(
        "--size", type=positive_int, default=None, help="image side when the model's is not fixed"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-xla", action="store_true", help="compile without XLA")


def _image_argument(parser, flag="--image", required=True):
    parser.add_argument(flag, required=required, help=f"image file or photograph name ({_PHOTOS})")


@command("visualize", "synthesize images that show what an image model learned (PNG)")
def configure(parser):
    sub = parser.add_subparsers(dest="method", metavar="METHOD")
    sub.required = True

    p = sub.add_parser("maximize", help="the image that maximizes one channel of a layer")
    _common(p)
    p.add_argument("--layer", required=True)
    p.add_argument("--unit", type=int, required=True, help="channel index")
    p.add_argument("--parameterization", choices=["fourier", "pixel"], default="fourier")
    p.set_defaults(run=_maximize)

    p = sub.add_parser("invert", help="reconstruct an image from a layer's activations")
    _common(p)
    p.add_argument("--layer", required=True)
    _image_argument(p)
    p.add_argument("--tv-weight", type=float, default=1e-3)
    p.set_defaults(run=_invert)

    p = sub.add_parser("dream", help="DeepDream: amplify what some layers see in an image")
    _common(p)
    p.add_argument("--layers", required=True, help="comma-separated layer names")
    _image_argument(p)
    p.add_argument("--octaves", type=positive_int, default=3)
    p.add_argument("--step-size", type=float, default=0.01)
    p.set_defaults(run=_dream)

    p = sub.add_parser("style", help="neural style transfer (Gatys et al. 2016)")
    _common(p, model=False)
    _image_argument(p, "--content")
    _image_argument(p, "--style")
    p.add_argument("--model", type=readable_path, default=None, help="feature extractor .keras")
    p.add_argument("--content-layers", default="block3_conv")
    p.add_argument("--style-layers", default="block1_conv,block2_conv,block3_conv")
    p.add_argument("--style-weight", type=float, default=10.0)
    p.set_defaults(run=_style)


def load_model(path):
    """`_common.load_model`, with our losses registered too (a model compiled with them)."""
    import keras_dlss.losses  # noqa: F401

    return _load_keras_model(path)


def _input_shape(model):
    from keras_dlss.visualization.feature_extraction import model_image_shape

    return model_image_shape(model)


def _load(source, model, size):
    """The image at the model's fixed size (else `size`, else 128) and channel count."""
    from keras_dlss.visualization import load_image

    height, width, channels = _input_shape(model)
    shape = (height or size or 128, width or size or 128)
    return load_image(source, size=shape, channels=channels if channels in (1, 3) else 3)


def _write(image, path):
    from keras_dlss.visualization import save_image

    written = save_image(image, path)
    print(f"wrote: {written}")
    return 0


def _maximize(args):
    from keras_dlss.visualization import maximize_activation

    model = load_model(args.model)
    height, width, channels = _input_shape(model)
    side = args.size or 64
    image = maximize_activation(
        model,
        args.layer,
        args.unit,
        image_shape=(height or side, width or side, channels or 3),
        steps=args.steps or 256,
        parameterization=args.parameterization,
        seed=args.seed,
        jit_compile=not args.no_xla,
    )
    return _write(image, args.out)


def _invert(args):
    from keras_dlss.visualization import invert_representation

    model = load_model(args.model)
    image, error = invert_representation(
        model,
        args.layer,
        _load(args.image, model, args.size),
        steps=args.steps or 300,
        tv_weight=args.tv_weight,
        seed=args.seed,
        jit_compile=not args.no_xla,
    )
    print(f"relative feature error: {error:.4f}")
    return _write(image, args.out)


def _dream(args):
    from keras_dlss.visualization import deep_dream

    model = load_model(args.model)
    image = deep_dream(
        model,
        _load(args.image, model, args.size),
        [name.strip() for name in args.layers.split(",") if name.strip()],
        octaves=args.octaves,
        steps=args.steps or 20,
        step_size=args.step_size,
        seed=args.seed,
        jit_compile=not args.no_xla,
    )
    return _write(image, args.out)


def _style(args):
    from keras_dlss.visualization import random_feature_extractor, style_transfer

    if args.model:
        extractor = load_model(args.model)
    else:
        extractor = random_feature_extractor(seed=args.seed)
    image = style_transfer(
        _load(args.content, extractor, args.size),
        _load(args.style, extractor, args.size),
        extractor,
        [name.strip() for name in args.content_layers.split(",") if name.strip()],
        [name.strip() for name in args.style_layers.split(",") if name.strip()],
        steps=args.steps or 200,
        style_weight=args.style_weight,
        jit_compile=not args.no_xla,
    )
    return _write(image, args.out)
