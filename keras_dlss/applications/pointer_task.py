"""`keras-dlss train pointer`: a pointer network on generated sorting or convex-hull data.

`--task sort` points at 5-10 uniform numbers in increasing order; `--task hull` at the
vertices of the convex hull of 5-10 uniform planar points, counter-clockwise from the
lowest-x point (Vinyals et al. 2015, Sec. 4). Examples of different lengths are padded to
the longest and masked; every target ends with the end slot 0. The reported metric is the
exact-sequence accuracy of greedy decoding; `accuracy_by_length` measures it on longer
inputs than the training ones (the pointer network's length generalization).
"""

import keras
import numpy as np

from keras_dlss.applications.base import Task, TaskData
from keras_dlss.applications.pointer_network import PointerNetwork
from keras_dlss.datasets.algorithmic import convex_hull_indices

TASKS = ("sort", "hull")


def pointer_examples(task, num_examples, min_length, max_length, seed=0):
    """Generated pointer-network examples padded to `max_length`.

    Returns:
        `(x, pointers)`: `x` a dict of `"inputs"` `[N, max_length, 1 or 2]` float32,
        `"pointers"` `[N, max_length + 1]` float32 target slots (0 = end, `k` = point
        `k - 1`, -1 = padding; the teacher-forcing input) and `"mask"` `[N, max_length]`;
        `pointers` the same targets, for the loss.
    """
    if task not in TASKS:
        raise ValueError(f"Argument `task` must be one of {TASKS}. Received: task={task!r}")
    rng = np.random.default_rng(seed)
    features = 1 if task == "sort" else 2
    inputs = np.zeros((num_examples, max_length, features), "float32")
    mask = np.zeros((num_examples, max_length), "float32")
    pointers = np.full((num_examples, max_length + 1), -1, "float32")
    for i in range(num_examples):
        length = int(rng.integers(min_length, max_length + 1))
        points = rng.random((length, features)).astype("float32")
        if task == "sort":
            order = np.argsort(points[:, 0], kind="stable")
        else:
            order = np.asarray(convex_hull_indices(points))
        inputs[i, :length], mask[i, :length] = points, 1.0
        pointers[i, : len(order) + 1] = np.append(order + 1, 0)
    # Sorted keys: exporters flatten the dict in sorted order, the signature in insertion order.
    x = {"inputs": inputs, "mask": mask, "pointers": pointers}
    return x, pointers


def sequence_accuracy(model, x, pointers, batch_size=256):
    """Share of examples whose greedy pointer sequence equals the target exactly."""
    target = np.maximum(pointers, 0).astype("int32")  # greedy output holds 0 after "end"
    correct = 0
    for start in range(0, len(target), batch_size):
        part = slice(start, start + batch_size)
        slots, _ = model.greedy_search(x["inputs"][part], x["mask"][part])
        correct += int((keras.ops.convert_to_numpy(slots) == target[part]).all(-1).sum())
    return correct / len(target)


def accuracy_by_length(model, task, lengths, num_examples=256, seed=1):
    """`{length: greedy exact-sequence accuracy}` on fresh inputs of exactly that length."""
    return {
        n: sequence_accuracy(model, *pointer_examples(task, num_examples, n, n, seed + n))
        for n in lengths
    }


class PointerTask(Task):
    name = "pointer"
    summary = "pointer network (LSTM encoder-decoder + pointer attention): sorting or convex hulls"
    default_data = (
        "generated: 5-10 uniform numbers to sort (--task sort) or planar points whose convex "
        "hull to trace (--task hull)"
    )
    default_epochs = 20
    default_batch_size = 64
    monitor = "val_loss"
    patience = 4
    data_options = ("task",)
    options = {
        "task": {"choices": TASKS, "help": "sort numbers or trace convex hulls (default sort)"},
        "units": {"type": int, "help": "LSTM units and pointer depth (default 64)"},
    }

    def load_data(self, path=None, seed=0, task="sort", min_length=5, max_length=10):
        if path is not None:
            raise ValueError(
                f"Argument `data` is not used by pointer (generated). Received: {path!r}"
            )
        splits = [
            pointer_examples(task, n, min_length, max_length, seed + k)
            for k, n in enumerate((4000, 256, 256))
        ]
        info = {
            "source": f"generated {task} task, {min_length}-{max_length} points",
            "task": task,
            "features": 1 if task == "sort" else 2,
            "max_length": max_length,
        }
        return TaskData(*splits, info)

    def build_model(self, data, *, jit_compile=True, seed=0, units=64):
        model = PointerNetwork(units, mask_pointed=True, permutation=data.info["task"] == "sort")
        model.compile(jit_compile=jit_compile)
        return model

    def evaluate(self, model, data):
        x, pointers = data.test
        loss = model.evaluate(x, pointers, verbose=0)
        return {
            "test_loss": float(np.ravel(loss)[0]),
            "test_sequence_accuracy": sequence_accuracy(model, x, pointers),
        }

    def predict(self, model, inputs, metadata):
        """Each input is numbers (`sort`) or `x,y` pairs (`hull`) separated by spaces."""
        lines = []
        for text in inputs:
            try:
                rows = [[float(v) for v in token.split(",")] for token in text.split()]
            except ValueError:
                rows = []
            if len(rows) < 2 or any(len(r) != metadata["features"] for r in rows):
                kind = "numbers" if metadata["features"] == 1 else "x,y pairs"
                raise ValueError(
                    f"Argument `inputs` must be at least 2 {kind} separated by spaces. "
                    f"Received: {text!r}"
                )
            slots, _ = model.greedy_search(np.asarray([rows], "float32"))
            order = [int(s) - 1 for s in keras.ops.convert_to_numpy(slots)[0] if s > 0]
            pointed = " ".join(",".join(f"{v:g}" for v in rows[i]) for i in order)
            lines.append(pointed or "(no point: the end pointer came first)")
        return lines
