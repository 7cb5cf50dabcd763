"""BiDAF on the generated reading-comprehension set: held-out EM/F1 beside trivial baselines.

Trains `applications.BiDAF` on `generate_reading_comprehension` (the `keras-dlss train bidaf`
default: 1,600 training, 200 validation and 400 test questions, different seeds), decodes
with `best_span` (L = 15) and scores with the SQuAD definitions. Baselines on the same test
questions: a random span (start uniform, length drawn from the training answers' lengths),
and the sentence with the largest word overlap with the question (whole sentence as the answer;
a lexical-matching reader that knows where, not what). Prints one table.

    KERAS_BACKEND=jax python benchmarks/bidaf_generated.py [--epochs 8] [--units 32] [--jit]

(`--jit` matters on TensorFlow only; JAX always compiles. TF's XLA backprop through the
masked LSTMs' while loops was ~10 s/step here under load: use JAX.)
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_dlss.applications import BiDAF  # noqa: E402
from keras_dlss.applications.bidaf_task import (  # noqa: E402
    answer_text,
    decode_answers,
    load_reading_data,
)
from keras_dlss.metrics import squad_exact_match, squad_f1  # noqa: E402


def random_span(examples, lengths, rng):
    out = []
    for ex in examples:
        n = len(ex["context_tokens"])
        length = int(rng.choice(lengths))
        start = int(rng.integers(0, max(1, n - length + 1)))
        out.append(answer_text(ex, start, min(n - 1, start + length - 1)))
    return out


def best_overlap_sentence(examples):
    out = []
    for ex in examples:
        tokens, question = ex["context_tokens"], set(ex["question_tokens"]) - {"?"}
        bounds, start = [], 0
        for i, t in enumerate(tokens):
            if t == ".":
                bounds.append((start, i - 1))
                start = i + 1
        best = max(bounds, key=lambda b: len(question & set(tokens[b[0] : b[1] + 1])))
        out.append(answer_text(ex, *best))
    return out


class HeldOutScores(keras.callbacks.Callback):
    """Prints test EM/F1 after every epoch, so a cut-short run still reports its curve."""

    def __init__(self, x, examples):
        super().__init__()
        self.x, self.examples, self.rows = x, examples, []
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        predicted = decode_answers(self.model, self.x, self.examples)
        golds = [ex["answers"] for ex in self.examples]
        em, f1 = squad_exact_match(predicted, golds), squad_f1(predicted, golds)
        seconds = time.perf_counter() - self.start
        self.rows.append((epoch + 1, em, f1, seconds))
        print(f"epoch {epoch + 1}: test EM {em:.1f} F1 {f1:.1f} ({seconds:.0f} s)", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--jit", action="store_true", help="compile with XLA")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    keras.utils.set_random_seed(args.seed)
    data, test_examples = load_reading_data(seed=args.seed)
    model = BiDAF(len(data.info["vocabulary"]), units=args.units)
    model.compile(jit_compile=args.jit)
    golds = [ex["answers"] for ex in test_examples]
    lengths = data.train[1][:, 1] - data.train[1][:, 0] + 1
    baselines = [
        ("random span", random_span(test_examples, lengths, np.random.default_rng(0))),
        ("best-overlap sentence", best_overlap_sentence(test_examples)),
    ]
    rows = [(name, *_scores(predicted, golds)) for name, predicted in baselines]
    for name, em, f1 in rows:  # printed first: a run cut short still has them
        print(f"{name}: test EM {em:.1f} F1 {f1:.1f}", flush=True)
    start = time.perf_counter()
    scores = HeldOutScores(data.test[0], test_examples)
    model.fit(
        *data.train,
        validation_data=data.validation,
        epochs=args.epochs,
        batch_size=args.batch_size,
        callbacks=[scores],
        verbose=2,
    )
    seconds = time.perf_counter() - start
    print(
        f"\nbackend {keras.config.backend()}, {len(data.train[1])} training / "
        f"{len(golds)} test questions, d = {args.units}, training {seconds:.0f} s"
    )
    print("| reader | test EM % | test F1 % |\n|---|---|---|")
    rows += [(f"BiDAF after epoch {e}", em, f1) for e, em, f1, _ in scores.rows]
    for name, em, f1 in rows:
        print(f"| {name} | {em:.1f} | {f1:.1f} |")


def _scores(predicted, golds):
    return squad_exact_match(predicted, golds), squad_f1(predicted, golds)


if __name__ == "__main__":
    main()
