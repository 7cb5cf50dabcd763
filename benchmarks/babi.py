"""bAbI 1k: per-task test error of MemN2N (3 hops, PE, TE, LS) vs an LSTM baseline.

Per-task training (one model per task, 1,000 training questions, a tenth held out for
linear start and early stopping), one run per task (the paper keeps the best of 10).
The LSTM reads the story's latest `--lstm-memory` statements then the question, word by
word. Prints one row per task as it finishes, then mean error and tasks passed (<= 5%).

    python benchmarks/babi.py [--data ../shared/data/babi-en-1k] [--epochs 40] [--tasks 1,2,3]
"""

import argparse
import glob
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_dlss.applications import MemN2N  # noqa: E402
from keras_dlss.datasets import babi_vocabulary, read_babi, vectorize_babi  # noqa: E402
from keras_dlss.layers import LinearStart  # noqa: E402


def _split(train, seed):
    order = np.random.default_rng(seed).permutation(len(train))
    n_val = len(train) // 10
    return [train[i] for i in order[n_val:]], [train[i] for i in order[:n_val]]


def _memn2n(vocab, arrays, args):
    (s, q, a), (vs, vq, va), (ts, tq, ta) = arrays
    model = MemN2N(len(vocab.tokens), s.shape[1], s.shape[2], linear_start=True)
    model.compile()
    model.fit(
        {"story": s, "question": q},
        a,
        validation_data=({"story": vs, "question": vq}, va),
        epochs=args.epochs,
        batch_size=32,
        verbose=0,
        callbacks=[LinearStart(max_epochs=max(1, args.epochs // 4))],
    )
    return model.evaluate({"story": ts, "question": tq}, ta, verbose=0, return_dict=True)


def _lstm_inputs(stories, questions, memory):
    # Chronological order (slot 0 is the latest statement), words flattened, question last.
    chrono = stories[:, :memory][:, ::-1].reshape(len(stories), -1)
    return np.concatenate([chrono, questions], axis=1)


def _lstm(vocab, arrays, args):
    (s, q, a), (vs, vq, va), (ts, tq, ta) = arrays
    m = args.lstm_memory
    inputs = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(len(vocab.tokens), 50, mask_zero=True)(inputs)
    h = keras.layers.LSTM(100)(h)
    outputs = keras.layers.Dense(len(vocab.tokens), activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    # No XLA: backprop through an XLA while loop costs 10-50x on CPU (PITFALLS.md).
    model.compile(
        optimizer=keras.optimizers.Adam(0.005, clipnorm=40.0),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=False,
    )
    stop = keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)
    model.fit(
        _lstm_inputs(s, q, m),
        a,
        validation_data=(_lstm_inputs(vs, vq, m), va),
        epochs=args.lstm_epochs,
        batch_size=32,
        verbose=0,
        callbacks=[stop],
    )
    return model.evaluate(_lstm_inputs(ts, tq, m), ta, verbose=0, return_dict=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join("..", "shared", "data", "babi-en-1k"))
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lstm-epochs", type=int, default=20)
    parser.add_argument("--lstm-memory", type=int, default=20)
    parser.add_argument("--tasks", default="1-20")
    parser.add_argument("--out", default=None, help="JSON file for the per-task results")
    args = parser.parse_args()
    if "-" in args.tasks:
        lo, hi = args.tasks.split("-")
        tasks = list(range(int(lo), int(hi) + 1))
    else:
        tasks = [int(t) for t in args.tasks.split(",")]
    keras.utils.set_random_seed(0)
    print(
        f"| task | MemN2N error % | LSTM error % | seconds (MemN2N + LSTM) |  (backend {keras.config.backend()})"
    )
    print("|---|---|---|---|")
    rows = []
    for task in tasks:
        (train_file,) = glob.glob(os.path.join(args.data, f"qa{task}_*_train.txt"))
        train, validation = _split(read_babi(train_file), task)
        test = read_babi(train_file.replace("_train.txt", "_test.txt"))
        vocab = babi_vocabulary(train, validation, test)
        length = max(len(x) for ex in train for x in [*ex["story"], ex["question"]])
        arrays = [vectorize_babi(e, vocab, 50, length) for e in (train, validation, test)]
        start = time.time()
        mem = 100 * (1 - _memn2n(vocab, arrays, args)["accuracy"])
        middle = time.time()
        lstm = 100 * (1 - _lstm(vocab, arrays, args)["accuracy"]) if args.lstm_epochs else np.nan
        name = os.path.basename(train_file)[: -len("_train.txt")]
        rows.append({"task": name, "memn2n_error": mem, "lstm_error": lstm})
        seconds = f"{middle - start:.0f} + {time.time() - middle:.0f}"
        print(f"| {name} | {mem:.1f} | {lstm:.1f} | {seconds} |", flush=True)
    for key, label in (("memn2n_error", "MemN2N"), ("lstm_error", "LSTM")):
        errors = np.array([r[key] for r in rows])
        print(f"{label}: mean error {errors.mean():.1f}%, passed (<= 5%) {(errors <= 5).sum()}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
