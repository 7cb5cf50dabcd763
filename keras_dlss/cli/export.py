"""`keras-dlss export`: a trained `.keras` model to SavedModel or ONNX, with a parity check.

Exit status: 0 when the artifact was written and ran; 2 for a mistake in the
command line (no such file, not a `.keras` model, unknown format); 1 when the
export itself failed or the format is unavailable on this backend (one line
on stderr saying why, e.g. ONNX from JAX without jax2onnx).
"""

import sys

from keras_dlss.cli import artifacts
from keras_dlss.cli._common import command, load_model, readable_path


@command("export", "export a trained .keras model to SavedModel or ONNX and report parity")
def configure(parser):
    parser.add_argument("model", type=readable_path, help="path to MODEL.keras")
    parser.add_argument("--format", choices=["tf_saved_model", "onnx"], default="tf_saved_model")
    parser.add_argument(
        "--out", required=True, help="output path (directory for SavedModel, .onnx file for ONNX)"
    )
    parser.set_defaults(run=run)


def run(args):
    from keras_dlss.export import try_export

    model = load_model(args.model)
    sample = _sample_for(model, args.model)
    result = try_export(model, args.out, sample, format=args.format)
    if not result["ok"]:
        print(
            f"keras-dlss export: {args.format} export failed: {result['reason']}", file=sys.stderr
        )
        return 1
    print(f"exported {args.model} -> {args.out} ({args.format})")
    print(
        f"max abs difference (Keras vs {args.format}) on a sample batch: {result['max_abs_diff']:.3g}"
    )
    return 0


def _sample_for(model, model_path):
    """The batch `train` saved beside the model, else random inputs shaped like `model.inputs`."""
    sample = artifacts.load_sample_beside(model_path)
    if sample is not None:
        return sample
    import numpy as np

    rng = np.random.default_rng(0)
    arrays = []
    for spec in model.inputs:
        shape = (4, *[d or 8 for d in spec.shape[1:]])
        if "int" in str(spec.dtype):
            arrays.append(rng.integers(0, 2, size=shape).astype(str(spec.dtype)))
        else:
            arrays.append(rng.normal(size=shape).astype(str(spec.dtype)))
    return arrays[0] if len(arrays) == 1 else arrays
