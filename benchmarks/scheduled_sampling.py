"""Teacher forcing vs scheduled sampling (inverse sigmoid) on the dates task, same budget.

Trains `Seq2SeqTranslator` twice with the same data, seed and number of steps:
once with teacher forcing and once with scheduled sampling (Bengio et al. 2015)
under `InverseSigmoidDecay` applied per batch, then reports on the test split:

- teacher-forced token accuracy (the decoder fed the true prefix),
- free-running token accuracy and exact match (greedy decoding, the model fed
  its own predictions, i.e. inference time),
- the gap between the two (exposure bias).

    .venv/bin/python benchmarks/scheduled_sampling.py [--train 3000 --epochs 6 --k 40]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_dlss.applications.base import TaskData  # noqa: E402
from keras_dlss.applications.seq2seq_task import Seq2SeqTask  # noqa: E402
from keras_dlss.callbacks import ScheduledSampling  # noqa: E402
from keras_dlss.schedules import InverseSigmoidDecay  # noqa: E402


def subset(data, n):
    (x, y) = data.train
    return TaskData(
        ({k: v[:n] for k, v in x.items()}, y[:n]), data.validation, data.test, data.info
    )


def evaluate(model, data):
    x, target = data.test
    teacher = keras.ops.convert_to_numpy(keras.ops.argmax(model(x), axis=-1))
    free = keras.ops.convert_to_numpy(model.greedy_search(x["source"])[0])
    tf_acc = float(np.mean(teacher == target))
    fr_acc = float(np.mean(free == target))
    exact = float(np.mean(np.all(free == target, axis=1)))
    return tf_acc, fr_acc, exact


def run(regime, data, args):
    keras.utils.set_random_seed(args.seed)
    task = Seq2SeqTask()
    model = task.build_model(
        data, jit_compile=True, seed=args.seed, regime=regime, units=args.units
    )
    callbacks = []
    if regime == "scheduled_sampling":
        callbacks.append(ScheduledSampling(InverseSigmoidDecay(args.k), update="batch"))
    start = time.perf_counter()
    x, y = data.train
    model.fit(x, y, epochs=args.epochs, batch_size=64, callbacks=callbacks, verbose=0)
    seconds = time.perf_counter() - start
    return (*evaluate(model, data), float(model.teacher_forcing_probability.numpy()), seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--k", type=float, default=40.0, help="InverseSigmoidDecay k (per batch)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = subset(Seq2SeqTask().load_data(seed=args.seed), args.train)
    steps = args.epochs * int(np.ceil(args.train / 64))
    final = float(InverseSigmoidDecay(args.k)(steps))
    print(
        f"dates task: {args.train} training pairs, {len(data.test[1])} test pairs, "
        f"{args.epochs} epochs ({steps} steps), units={args.units}; "
        f"inverse sigmoid k={args.k:g} (epsilon 1.00 -> {final:.2f})"
    )
    header = (
        f"{'regime':<20}{'teacher-forced acc':>20}{'free-running acc':>18}"
        f"{'exact match':>13}{'gap':>8}{'final eps':>11}{'train s':>9}"
    )
    print(header)
    print("-" * len(header))
    for regime in ("teacher_forcing", "scheduled_sampling"):
        tf_acc, fr_acc, exact, eps, seconds = run(regime, data, args)
        print(
            f"{regime:<20}{tf_acc:>20.3f}{fr_acc:>18.3f}{exact:>13.3f}"
            f"{tf_acc - fr_acc:>8.3f}{eps:>11.2f}{seconds:>9.0f}"
        )


if __name__ == "__main__":
    main()
