"""SST-2: every TextClassifier kind, naive Bayes and NBSVM in one table, plus the negation probe.

Trains on `../shared/data/sst2/train.tsv` (60,614 phrases and sentences),
early-stops on `dev.tsv` (validation accuracy, best weights restored; with
`--select sentences` on 1,000 full sentences held out of train+dev instead,
since `dev.tsv` holds phrases of the training sentences) and reports accuracy
on the 872-sentence `test.tsv`, the training time, and accuracy on
`keras_dlss.datasets.negation_probe` (overall and per category).
Training batches are bucketed by length (16 / 32 / 64 tokens): most SST-2
phrases are short, and padding every batch to the longest sentence would
make the recurrent kinds several times slower. Everything runs on the
TensorFlow backend with `jit_compile=True`, from scratch (no pretrained
vectors: none ship with the package).

    .venv/bin/python benchmarks/sst2.py [--quick] [--kinds bow,cnn] [--epochs 4]

The small-data study (Dai & Le 2015: a BiLSTM fine-tuned from a pretrained
bidirectional LM vs from scratch) is `benchmarks/sst2_pretrain.py`.
"""

import argparse
import json
import os
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from keras_dlss.applications.text_classifier import KINDS, TextClassifier, fit_sif  # noqa: E402
from keras_dlss.datasets.text_classification import (  # noqa: E402
    build_vocabulary,
    encode_texts,
    read_text_classification,
    tokenize_text,
)
from keras_dlss.datasets.text_sentiment import PROBE_CATEGORIES, negation_probe  # noqa: E402
from keras_dlss.models.naive_bayes import NBSVM, NaiveBayesClassifier  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "sst2")
BUCKETS = (8, 16, 32, 64)  # 58% of the training phrases have at most 8 tokens
VERBOSE = False
BATCH_SIZE = 64
SETTINGS = {  # (learning rate, hyperparameters) per kind
    "bow": (1e-2, {}),
    "cbow": (1e-3, {"embedding_dim": 128}),
    "deep_cbow": (1e-3, {"embedding_dim": 128, "hidden_dim": 128}),
    "cnn": (1e-3, {"embedding_dim": 128, "filters": 100}),
    "bilstm": (1e-3, {"embedding_dim": 128, "hidden_dim": 128}),
    "sif": (1e-2, {"embedding_dim": 128}),
}


class EpochLog(keras.callbacks.Callback):
    """Logs dev and test accuracy per epoch; stops after the epoch that exceeds `budget_s`.

    The test column is printed for the record only: the model kept is the one
    with the best dev accuracy (early stopping restores it).
    """

    def __init__(self, x_test, y_test, budget_s=None):
        super().__init__()
        self.x_test, self.y_test, self.budget_s = x_test, y_test, budget_s
        self.start = time.perf_counter()
        self.rows = []

    def on_epoch_end(self, epoch, logs=None):
        predicted = self.model.predict(self.x_test, batch_size=256, verbose=0).argmax(-1)
        row = {
            "epoch": epoch + 1,
            "seconds": round(time.perf_counter() - self.start),
            "val_accuracy": float((logs or {}).get("val_accuracy", float("nan"))),
            "test_accuracy": float(np.mean(predicted == self.y_test)),
        }
        self.rows.append(row)
        print(json.dumps(row), flush=True)
        if self.budget_s is not None and row["seconds"] > self.budget_s:
            self.model.stop_training = True


class BestEpoch(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the best accuracy on a selection set.

    Early stopping with restored weights, computed by `predict` so that it
    sees the averaged weights when `SwapEMAWeights(swap_on_epoch=True)` runs
    before it; it writes `val_accuracy` into the epoch's logs for `EpochLog`.
    """

    def __init__(self, x, y, patience):
        super().__init__()
        self.x, self.y, self.patience = x, y, patience
        self.best, self.best_epoch, self.best_weights = -1.0, 0, None

    def on_epoch_end(self, epoch, logs=None):
        predicted = self.model.predict(self.x, batch_size=256, verbose=0).argmax(-1)
        accuracy = float(np.mean(predicted == self.y))
        if logs is not None:
            logs["val_accuracy"] = accuracy
        if accuracy > self.best:
            self.best, self.best_epoch = accuracy, epoch + 1
            self.best_weights = self.model.get_weights()
        elif epoch + 1 - self.best_epoch >= self.patience:
            self.model.stop_training = True


class Buckets:
    """Shuffled batches, each padded to the smallest bucket that holds its longest text."""

    def __init__(self, ids, labels, batch_size, seed=0):
        lengths = (ids > 0).sum(1)
        self.batches = []
        self.rng = np.random.default_rng(seed)
        for low, high in zip((0,) + BUCKETS[:-1], BUCKETS):
            rows = np.flatnonzero((lengths > low) & (lengths <= high))
            self.rng.shuffle(rows)
            for i in range(0, len(rows), batch_size):
                chunk = rows[i : i + batch_size]
                self.batches.append((ids[chunk, :high], labels[chunk]))

    def batch(self, i):
        return self.batches[i]

    def dataset(self):
        """A `tf.data.Dataset` (benchmark only): Keras' `PyDataset` fixes the first batch's length."""
        import tensorflow as tf

        def generate():
            for i in self.rng.permutation(len(self.batches)):
                yield self.batch(i)

        first = self.batch(0)
        signature = tf.nest.map_structure(
            lambda a: tf.TensorSpec((None,) * a.ndim, tf.as_dtype(a.dtype)), first
        )
        return tf.data.Dataset.from_generator(generate, output_signature=signature)


def held_out_sentences(texts, labels, count, seed=0):
    """Splits SST-2 train+dev rows into training rows and `count` held-out FULL sentences.

    A row is a sentence if it is no token substring of a longer row. The
    held-out rows are `count` random sentences; removed from training are the
    held-out sentences and every phrase that occurs only inside held-out
    sentences (a phrase that also occurs in a training sentence stays, as the
    phrases of `test.tsv`'s sentences that also occur in training sentences
    do). So nothing is selected on a sentence whose parse was trained on.
    """
    tokens = [tuple(t.split()) for t in texts]
    rows_of = {}
    for i, t in enumerate(tokens):
        rows_of.setdefault(t, []).append(i)

    def spans(t):
        return {t[a:b] for a in range(len(t)) for b in range(a + 1, len(t) + 1)}

    contained = np.zeros(len(texts), bool)
    for t in rows_of:
        for span in spans(t) - {t}:
            contained[rows_of.get(span, [])] = True
    sentences = np.flatnonzero(~contained)
    held = np.random.default_rng(seed).permutation(sentences)[:count]
    kept_spans = set().union(*(spans(tokens[i]) for i in np.setdiff1d(sentences, held)))
    held_spans = set().union(*(spans(tokens[i]) for i in held))
    drop = np.array([t in held_spans and t not in kept_spans for t in tokens])
    train = np.flatnonzero(~drop)
    print(
        f"held-out selection: {len(sentences)} sentences in train+dev, {len(held)} held out, "
        f"{int(drop.sum())} rows (held-out sentences and their own phrases) left out of training"
    )
    pick = lambda rows: ([texts[i] for i in rows], labels[rows])  # noqa: E731
    return pick(train), pick(held)


def load(quick, select="dev", held_out=1000):
    split = {}
    for name in ("train", "dev", "test"):
        texts, labels, _ = read_text_classification(os.path.join(DATA, f"{name}.tsv"))
        split[name] = (texts, labels)
    if select == "sentences":
        texts = split["train"][0] + split["dev"][0]
        labels = np.concatenate([split["train"][1], split["dev"][1]])
        split["train"], split["dev"] = held_out_sentences(texts, labels, held_out)
    if quick:
        rng = np.random.default_rng(0)
        keep = rng.permutation(len(split["train"][0]))[:6000]
        split["train"] = ([split["train"][0][i] for i in keep], split["train"][1][keep])
        split["dev"] = (split["dev"][0][:1000], split["dev"][1][:1000])
    return split


def train_kind(
    kind, x_train, y_train, x_dev, y_dev, vocab_size, epochs, seed=0, init=None, patience=2,
    log=None, ema=0.0, max_norm=None,
):  # fmt: skip
    keras.utils.set_random_seed(seed)
    learning_rate, hparams = SETTINGS[kind]
    model = TextClassifier(vocab_size, 2, kind, **hparams)
    if init is not None:
        init(model)
    if kind == "sif":
        fit_sif(model, x_train)
    if max_norm:  # Kim (2014): rescale each output unit's weight vector to norm <= max_norm
        model.get_layer("probabilities").kernel.constraint = keras.constraints.MaxNorm(max_norm)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, use_ema=ema > 0, ema_momentum=ema or 0.99),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=True,
    )
    best = BestEpoch(x_dev, y_dev, patience)
    swap = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if ema > 0 else []
    start = time.perf_counter()
    history = model.fit(
        Buckets(x_train, y_train, BATCH_SIZE, seed).dataset(),
        epochs=epochs,
        callbacks=swap + [best] + ([log] if log is not None else []),
        verbose=2 if VERBOSE else 0,
    )
    model.set_weights(best.best_weights)
    model.epochs_run, model.best_epoch = len(history.history["loss"]), best.best_epoch
    return model, time.perf_counter() - start


def probe_scores(predict, probe):
    texts, labels, categories = probe
    predicted = predict(texts)
    categories = np.array(categories)
    scores = {"all": float(np.mean(predicted == labels))}
    for c in PROBE_CATEGORIES:
        scores[c] = float(np.mean(predicted[categories == c] == labels[categories == c]))
    return scores


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6,000 training phrases, 1 epoch")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--patience", type=int, default=2, help="early stopping on dev accuracy")
    parser.add_argument("--verbose", action="store_true", help="one line per epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr-scale", type=float, default=1.0, help="times each kind's rate")
    parser.add_argument(
        "--budget-minutes", type=float, default=None, help="stop after the epoch that exceeds it"
    )
    parser.add_argument("--baselines", default="nb,nbsvm")
    parser.add_argument(
        "--select", choices=("dev", "sentences"), default="dev",
        help="model selection on dev.tsv (phrases of SST-2 train sentences) or on --held-out "
        "full sentences of train+dev, left out of training with their own phrases",
    )  # fmt: skip
    parser.add_argument("--held-out", type=int, default=1000, help="sentences for --select")
    parser.add_argument("--ema", type=float, default=0.0, help="weight averaging momentum")
    parser.add_argument("--max-norm", type=float, default=None, help="on the output weights")
    parser.add_argument("--embedding-dim", type=int, default=None)
    parser.add_argument("--hidden-dim", type=int, default=None)
    parser.add_argument("--out", default="sst2_results.json")
    args = parser.parse_args()
    if not os.path.isdir(DATA):
        raise SystemExit(f"SST-2 not found at {DATA} (see ../shared/data/README.md)")
    epochs = 1 if args.quick else args.epochs
    global VERBOSE, BATCH_SIZE
    VERBOSE, BATCH_SIZE = args.verbose, args.batch_size
    for kind in SETTINGS:
        sizes = {"embedding_dim": args.embedding_dim, "hidden_dim": args.hidden_dim}
        hparams = {**SETTINGS[kind][1]}
        hparams.update({k: n for k, n in sizes.items() if n and k in hparams})
        SETTINGS[kind] = (SETTINGS[kind][0] * args.lr_scale, hparams)
    split = load(args.quick, args.select, args.held_out)
    vocabulary = build_vocabulary(split["train"][0])
    encode = lambda texts: encode_texts(texts, vocabulary, 64)  # noqa: E731
    x = {k: encode(t) for k, (t, _) in split.items()}
    y = {k: lab for k, (_, lab) in split.items()}
    probe = negation_probe()
    print(
        f"SST-2: {len(y['train'])} train, {len(y['dev'])} dev, {len(y['test'])} test; "
        f"vocabulary {len(vocabulary)}; load average {os.getloadavg()[0]:.1f} (shared machine)"
    )
    rows = []
    tokens = {k: [tokenize_text(t) for t in split[k][0]] for k in ("train", "test")}
    probe_tokens = lambda texts: [tokenize_text(t) for t in texts]  # noqa: E731
    for name in [b for b in args.baselines.split(",") if b]:
        start = time.perf_counter()
        model = NaiveBayesClassifier(ngram_range=(1, 2)) if name == "nb" else NBSVM()
        model.fit(tokens["train"], y["train"])
        seconds = time.perf_counter() - start
        accuracy = model.score(tokens["test"], y["test"])
        negation = probe_scores(lambda t, m=model: m.predict(probe_tokens(t)), probe)
        rows.append({"model": name, "test_accuracy": accuracy, "train_s": seconds, **negation})
        print(json.dumps(rows[-1]))
    budget = args.budget_minutes
    for kind in [k for k in args.kinds.split(",") if k]:
        model, seconds = train_kind(
            kind, x["train"], y["train"], x["dev"], y["dev"], len(vocabulary), epochs,
            patience=args.patience, ema=args.ema, max_norm=args.max_norm,
            log=(log := EpochLog(x["test"], y["test"], budget and 60 * budget)),
        )  # fmt: skip
        accuracy = float(np.mean(model.predict(x["test"], verbose=0).argmax(-1) == y["test"]))
        negation = probe_scores(
            lambda t, m=model: m.predict(encode(t), verbose=0).argmax(-1), probe
        )
        rows.append(
            {"model": kind, "test_accuracy": accuracy, "train_s": seconds,
             "epochs": model.epochs_run, "best_epoch": model.best_epoch, **negation,
             "per_epoch": log.rows}
        )  # fmt: skip
        print(json.dumps(rows[-1]))
    print_table(rows)
    results = {"rows": rows, "quick": args.quick}
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)


def print_table(rows):
    head = "| model | SST-2 test acc | train s | probe all | " + " | ".join(PROBE_CATEGORIES) + " |"
    print("\n" + head + "\n|" + "---|" * (4 + len(PROBE_CATEGORIES)))
    for r in rows:
        cells = [f"{r[c]:.2f}" for c in PROBE_CATEGORIES]
        print(
            f"| {r['model']} | {100 * r['test_accuracy']:.1f}% | {r['train_s']:.0f} | "
            f"{r['all']:.2f} | " + " | ".join(cells) + " |"
        )


if __name__ == "__main__":
    main()
