"""Pointer network length generalization: trained on 5-10 points, tested on 5-50.

Vinyals et al. (2015, Sec. 4) train on n <= 50 and report exact-sequence accuracy; the
claim checked here is the pointer network's own: the output dictionary is the input, so the
same weights run on longer inputs than any seen in training. One run per task (sort, hull),
greedy and beam (width 4) decoding, 256 fresh test inputs per length.

    python benchmarks/pointer_lengths.py --tasks sort,hull --epochs 20 --train 8000
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_dlss.applications import PointerNetwork  # noqa: E402
from keras_dlss.applications.pointer_task import (  # noqa: E402
    accuracy_by_length,
    pointer_examples,
)


def beam_accuracy(model, task, n, num_examples=256, seed=1, beam_width=4):
    x, pointers = pointer_examples(task, num_examples, n, n, seed + n)
    slots, _ = model.beam_search(x["inputs"], x["mask"], beam_width=beam_width)
    best = keras.ops.convert_to_numpy(slots)[:, 0]
    return float((best == np.maximum(pointers, 0)).all(-1).mean())


class TimeBudget(keras.callbacks.Callback):
    """Stops training after `minutes` (the shared machine's load varies 5-25x)."""

    def __init__(self, minutes):
        super().__init__()
        self.deadline = time.time() + 60 * minutes

    def on_epoch_end(self, epoch, logs=None):
        if time.time() > self.deadline:
            self.model.stop_training = True


def run(task, args):
    keras.utils.set_random_seed(0)
    x, y = pointer_examples(task, args.train, 5, 10, seed=0)
    xv, yv = pointer_examples(task, 512, 5, 10, seed=100)
    model = PointerNetwork(args.units, mask_pointed=True, permutation=task == "sort")
    model.compile(keras.optimizers.Adam(args.learning_rate, clipnorm=2.0), jit_compile=True)
    start = time.time()
    history = model.fit(
        x,
        y,
        validation_data=(xv, yv),
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=0,
        callbacks=[
            keras.callbacks.EarlyStopping(patience=4, restore_best_weights=True),
            TimeBudget(args.minutes),
        ],
    )
    seconds = time.time() - start
    lengths = [int(v) for v in args.lengths.split(",")]
    greedy = accuracy_by_length(model, task, lengths, args.test)
    beam = {n: beam_accuracy(model, task, n, args.test) for n in lengths}
    epochs = len(history.history["loss"])
    print(
        f"\n{task}: {args.train} training examples of 5-10 points, {epochs} epochs, "
        f"{seconds:.0f} s, final val_loss {history.history['val_loss'][-1]:.4f}"
    )
    print("| points n | greedy exact-sequence accuracy | beam (4) accuracy |")
    print("|---|---|---|")
    for n in lengths:
        print(f"| {n} | {greedy[n]:.3f} | {beam[n]:.3f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="sort,hull")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--train", type=int, default=8000)
    parser.add_argument("--test", type=int, default=256)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--lengths", default="5,10,15,20,30,50")
    parser.add_argument("--minutes", type=float, default=30.0, help="training time budget")
    args = parser.parse_args()
    print(f"backend {keras.config.backend()}, units {args.units}, batch {args.batch_size}")
    for task in args.tasks.split(","):
        run(task, args)


if __name__ == "__main__":
    main()
