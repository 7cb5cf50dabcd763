"""`keras-dlss generate`: sample from a trained generative application."""

import argparse

from keras_dlss.cli import artifacts
from keras_dlss.cli._common import (
    UsageError,
    command,
    get_task,
    load_model,
    positive_int,
    readable_path,
)


@command("generate", "sample from a trained generative application")
def configure(parser):
    parser.add_argument("app")
    parser.add_argument("model", type=readable_path)
    parser.add_argument("--out", required=True, help="output file (e.g. sample.mid)")
    parser.add_argument(
        "--primer",
        default=None,
        help="file to continue (e.g. .mid); text itself for applications with text primers",
    )
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--length", type=positive_int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--condition", type=int, default=None, help="class to generate (conditional models)"
    )
    parser.set_defaults(run=run)


def run(args):
    task = get_task(args.app)
    if args.primer is not None and not getattr(task, "text_primer", False):
        try:
            readable_path(args.primer)
        except argparse.ArgumentTypeError as e:
            raise UsageError(f"argument --primer: {e}") from None
    model = load_model(args.model)
    options = {
        "primer": args.primer,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "top_k": args.top_k,
        "seed": args.seed,
    }
    if args.condition is not None:
        options["condition"] = args.condition
    if args.length:
        options["length"] = args.length
    metadata = artifacts.load_metadata_beside(args.model)
    paths = task.generate(model, metadata, args.out, **options)
    print("wrote: " + ", ".join(paths or [args.out]))
    return 0
