"""The files a command writes into its output directory, and reads back beside a model.

`train` writes `metrics.json`, `history.png`, `metadata.json` and
`sample_inputs.npz` next to `model.keras`; `export` reads the sample batch to
check parity, `predict` and `generate` read the metadata (vocabularies, the
data window). Keeping the names and formats here keeps writer and readers in
step as commands are added.
"""

import json
import os

from keras_dlss.cli._common import UsageError, import_keras

METADATA = "metadata.json"
METRICS = "metrics.json"
HISTORY_PLOT = "history.png"
SAMPLE_INPUTS = "sample_inputs.npz"


def save_json(path, obj):
    """Writes `obj` as indented JSON; NumPy scalars become numbers, anything else a string."""
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o))


def save_sample(path, sample):
    """Saves a batch of model inputs (array, list or dict) as `.npz`, one array per leaf."""
    import numpy as np

    flat = import_keras().tree.flatten(sample)
    np.savez(path, *[np.asarray(a) for a in flat])


def load_sample(path):
    """The arrays saved by `save_sample`, in their original (flattened) order."""
    import numpy as np

    with np.load(path) as f:
        return [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


def load_sample_beside(model_path):
    """The sample batch saved beside `model_path` (one array, or a list), or None."""
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), SAMPLE_INPUTS)
    if not os.path.exists(path):
        return None
    flat = load_sample(path)
    return flat[0] if len(flat) == 1 else flat


def load_metadata_beside(model_path):
    """The `metadata.json` that `train` wrote beside `model_path`."""
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), METADATA)
    if not os.path.exists(path):
        raise UsageError(
            f"no metadata.json beside {model_path!r}: train it with `keras-dlss train`"
        )
    with open(path) as f:
        return json.load(f)


def plot_history(history, path):
    """Plots each training metric (and its validation twin) per epoch; returns `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in history if not k.startswith("val_")]
    fig, axes = plt.subplots(
        1, max(1, len(names)), figsize=(4.5 * max(1, len(names)), 3.5), squeeze=False
    )
    for ax, name in zip(axes[0], names):
        ax.plot(range(1, len(history[name]) + 1), history[name], label=f"train {name}")
        if f"val_{name}" in history:
            ax.plot(
                range(1, len(history[f"val_{name}"]) + 1),
                history[f"val_{name}"],
                label=f"validation {name}",
            )
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
