"""The `keras-dlss` command line: list, train, export, tune, predict, generate.

Each command is one module in this package. It registers a `configure(parser)`
function with `@command(name, help)` (from `keras_dlss.cli._common`), and that
function sets the `run(args) -> exit status` the command executes. A new command
is one new module plus its name in `_COMMAND_MODULES` below.

The modules are listed rather than discovered with `pkgutil` so that the order
of `keras-dlss --help` is chosen, not alphabetical, and so that helper modules
(`_common`, `artifacts`) are never mistaken for commands. Importing a command
module must stay cheap (standard library and `keras_dlss.cli` only): every call,
`keras-dlss --help` included, imports all of them before parsing. Keras and
TensorFlow are imported by `main` after parsing, with their logging silenced.

Shared pieces: `_common` (the registry, `UsageError`, the quiet TensorFlow
import, application lookup, model loading, argument types) and `artifacts`
(`metrics.json`, `history.png`, `metadata.json`, sample batches).
Errors a user can cause (unknown application, unreadable `--data`, bad option)
print one line and exit with status 2, never a traceback.
"""

import os

# TensorFlow's C++ logging floods stderr of every call (PITFALLS.md): silence it first.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import importlib  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

from keras_dlss.cli._common import COMMANDS, UsageError, command, import_keras  # noqa: E402

# In `keras-dlss --help` order.
_COMMAND_MODULES = (
    "list_apps",
    "train",
    "export",
    "tune",
    "search",
    "predict",
    "generate",
    "explain",
    "attack",
    "visualize",
)

for _module in _COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["COMMANDS", "UsageError", "build_parser", "command", "main"]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-dlss", description="Train, export and tune keras-dlss applications."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, spec in COMMANDS.items():
        spec["configure"](sub.add_parser(name, help=spec["help"]))
    return parser


def main(argv=None):
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)  # argparse exits 2 on bad options
    # Options the command does not know go to commands that take the application's own
    # (`train APP --depth 56`, see `Task.options`); anywhere else they are an error.
    if extra and not hasattr(args, "task_options"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.task_options = extra
    args.argv = list(sys.argv[1:] if argv is None else argv)  # `train --workers` relaunches it
    warnings.filterwarnings("ignore", message=".*np.object.*", category=FutureWarning)  # tf2onnx
    if hasattr(args, "before_keras"):  # e.g. the XLA device flags JAX reads at import
        args.before_keras(args)
    import_keras()
    try:
        return args.run(args)
    except (UsageError, ValueError, FileNotFoundError, NotImplementedError) as e:
        print(f"keras-dlss {args.command}: error: {e}", file=sys.stderr)
        return 2
