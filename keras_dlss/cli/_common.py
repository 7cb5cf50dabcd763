"""What every `keras-dlss` command shares: the command registry, `UsageError`,
the quiet TensorFlow import, application lookup, model loading and argument types.

Nothing here imports Keras or TensorFlow at module level: `keras-dlss --help` and
argument errors answer before TensorFlow's start-up cost (PITFALLS.md).
"""

import argparse
import os
import sys

COMMANDS = {}


class UsageError(Exception):
    """A mistake in the command line: reported as one line, exit status 2."""


def command(name, help):
    """Registers a `configure(parser)` function as the subcommand `name`.

    `configure` adds the subcommand's arguments and sets `run=` (a function
    `run(args) -> exit status`) with `parser.set_defaults`.
    """

    def wrap(configure):
        COMMANDS[name] = {"help": help, "configure": configure}
        return configure

    return wrap


def import_keras():
    """Imports Keras/TensorFlow with stderr silenced: TF 2.21 logs through absl at import
    time, before TF_CPP_MIN_LOG_LEVEL can take effect (PITFALLS.md)."""
    if "keras" not in sys.modules:
        with _QuietStderr():
            import keras
            import tensorflow as tf

            tf.config.list_physical_devices()  # device discovery logs too
    import keras

    return keras


class _QuietStderr:
    """Points file descriptor 2 at /dev/null: C++ logging bypasses `sys.stderr`."""

    def __enter__(self):
        sys.stderr.flush()
        self._saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    def __exit__(self, *exc):
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        return False


def get_task(name):
    """The registered application `name`, or a `UsageError` naming the available ones."""
    import_keras()
    from keras_dlss.applications.registry import get_task, task_names

    if name not in task_names():
        raise UsageError(f"unknown application {name!r}. Available: {', '.join(task_names())}")
    return get_task(name)


def load_model(path):
    """Loads a `.keras` file, registering keras-dlss classes first; errors are one line."""
    keras = import_keras()
    import keras_dlss.applications  # noqa: F401  (registers serializable classes)
    import keras_dlss.layers  # noqa: F401

    if not str(path).endswith(".keras"):
        raise UsageError(f"expected a .keras model file, got {path!r}")
    try:
        return keras.saving.load_model(path)
    except Exception as e:
        raise UsageError(
            f"could not load {path!r}: {type(e).__name__}: {str(e).splitlines()[0]}"
        ) from None


def positive_int(value):
    """argparse type: an integer >= 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def readable_path(value):
    """argparse type: a file or directory that exists and can be read."""
    if not os.path.exists(value):
        raise argparse.ArgumentTypeError(f"no such file or directory: {value!r}")
    if not os.access(value, os.R_OK):
        raise argparse.ArgumentTypeError(f"not readable: {value!r}")
    return value


def num_examples(split):
    """How many examples a split holds (the length of its first leaf)."""
    import keras

    return int(len(keras.tree.flatten(split)[0]))
