"""SST-2: every TextClassifier kind, naive Bayes and NBSVM in one table, plus the negation probe.

Trains on `../shared/data/sst2/train.tsv` (60,614 phrases and sentences),
early-stops on `dev.tsv` (validation accuracy, best weights restored) and
reports accuracy on the 872-sentence `test.tsv`, the training time, and
accuracy on `keras_dlss.datasets.negation_probe` (overall and per category).
Training batches are bucketed by length (16 / 32 / 64 tokens): most SST-2
phrases are short, and padding every batch to the longest sentence would
make the recurrent kinds several times slower. Everything runs on the
TensorFlow backend with `jit_compile=True`, from scratch (no pretrained
vectors: none ship with the package).

    .venv/bin/python benchmarks/sst2.py [--quick] [--kinds bow,cnn] [--epochs 4]

`--pretrain` adds the small-data study (Dai & Le 2015): a BiLSTM classifier
fine-tuned from a bidirectional LM pretrained on all training sentences vs
one trained from scratch, at 1%, 10% and 100% of the training data.
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


def load(quick):
    split = {}
    for name in ("train", "dev", "test"):
        texts, labels, _ = read_text_classification(os.path.join(DATA, f"{name}.tsv"))
        split[name] = (texts, labels)
    if quick:
        rng = np.random.default_rng(0)
        keep = rng.permutation(len(split["train"][0]))[:6000]
        split["train"] = ([split["train"][0][i] for i in keep], split["train"][1][keep])
        split["dev"] = (split["dev"][0][:1000], split["dev"][1][:1000])
    return split


def train_kind(
    kind, x_train, y_train, x_dev, y_dev, vocab_size, epochs, seed=0, init=None, patience=2,
    log=None,
):  # fmt: skip
    keras.utils.set_random_seed(seed)
    learning_rate, hparams = SETTINGS[kind]
    model = TextClassifier(vocab_size, 2, kind, **hparams)
    if init is not None:
        init(model)
    if kind == "sif":
        fit_sif(model, x_train)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=True,
    )
    stop = keras.callbacks.EarlyStopping(
        "val_accuracy", patience=patience, restore_best_weights=True, mode="max"
    )
    start = time.perf_counter()
    history = model.fit(
        Buckets(x_train, y_train, BATCH_SIZE, seed).dataset(),
        validation_data=Buckets(x_dev, y_dev, 256).dataset(),
        epochs=epochs,
        callbacks=[stop] + ([log] if log is not None else []),
        verbose=2 if VERBOSE else 0,
    )
    model.epochs_run = len(history.history["loss"])
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
    parser.add_argument("--pretrain", action="store_true", help="the Dai & Le study")
    parser.add_argument("--out", default="sst2_results.json")
    args = parser.parse_args()
    if not os.path.isdir(DATA):
        raise SystemExit(f"SST-2 not found at {DATA} (see ../shared/data/README.md)")
    epochs = 1 if args.quick else args.epochs
    global VERBOSE, BATCH_SIZE
    VERBOSE, BATCH_SIZE = args.verbose, args.batch_size
    for kind in SETTINGS:
        SETTINGS[kind] = (SETTINGS[kind][0] * args.lr_scale, SETTINGS[kind][1])
    split = load(args.quick)
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
            patience=args.patience,
            log=(log := EpochLog(x["test"], y["test"], budget and 60 * budget)),
        )  # fmt: skip
        accuracy = float(np.mean(model.predict(x["test"], verbose=0).argmax(-1) == y["test"]))
        negation = probe_scores(
            lambda t, m=model: m.predict(encode(t), verbose=0).argmax(-1), probe
        )
        rows.append(
            {"model": kind, "test_accuracy": accuracy, "train_s": seconds,
             "epochs": model.epochs_run, **negation, "per_epoch": log.rows}
        )  # fmt: skip
        print(json.dumps(rows[-1]))
    print_table(rows)
    results = {"rows": rows, "quick": args.quick}
    if args.pretrain:
        results["pretraining"] = pretraining_study(x, y, len(vocabulary), epochs)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)


LM_VOCABULARY = 5000  # the LM predicts the 5,000 most frequent words (others: <unk>)


class LMBatches(Buckets):
    """Next-word (forward) and previous-word (backward) targets of each bucketed batch."""

    def batch(self, i):
        ids, _ = super().batch(i)
        targets = np.where(ids < LM_VOCABULARY, ids, 1)
        forward, backward = np.zeros_like(ids), np.zeros_like(ids)
        forward[:, :-1], backward[:, 1:] = targets[:, 1:], targets[:, :-1]
        weights = (
            ((ids > 0) & (forward > 0)).astype("float32"),
            ((ids > 0) & (backward > 0)).astype("float32"),
        )
        return ids, (forward, backward), weights


def pretrain_bilm(x_train, vocab_size, epochs, seed=0):
    """A bidirectional LSTM language model (ELMo-style) with the classifier's layer names."""
    keras.utils.set_random_seed(seed)
    _, hparams = SETTINGS["bilstm"]
    ids = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(
        vocab_size, hparams["embedding_dim"], mask_zero=True, name="embedding"
    )(ids)
    forward, backward = keras.layers.Bidirectional(
        keras.layers.LSTM(hparams["hidden_dim"], return_sequences=True),
        merge_mode=None,
        name="bilstm",
    )(h)
    outputs = [
        keras.layers.Dense(LM_VOCABULARY, name="next_word")(forward),
        keras.layers.Dense(LM_VOCABULARY, name="previous_word")(backward),
    ]
    lm = keras.Model(ids, outputs)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    lm.compile(optimizer=keras.optimizers.Adam(1e-3), loss=[loss, loss], jit_compile=True)
    start = time.perf_counter()
    batches = LMBatches(x_train, np.zeros(len(x_train), "int32"), 64, seed)
    history = lm.fit(batches.dataset(), epochs=epochs, verbose=0)
    return lm, time.perf_counter() - start, float(history.history["loss"][-1])


def pretraining_study(x, y, vocab_size, epochs):
    """Test accuracy of a BiLSTM from scratch vs from the pretrained biLM, per data fraction."""
    lm, seconds, loss = pretrain_bilm(x["train"], vocab_size, max(1, epochs // 2))
    print(f"biLM pretrained in {seconds:.0f} s (final summed loss {loss:.2f})")

    def init(model):
        for name in ("embedding", "bilstm"):
            model.get_layer(name).set_weights(lm.get_layer(name).get_weights())

    rows = []
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y["train"]))
    for fraction in (0.01, 0.1, 1.0):
        keep = order[: max(64, int(fraction * len(order)))]
        row = {"fraction": fraction, "train_examples": len(keep), "lm_seconds": seconds}
        for arm, initializer in (("scratch", None), ("pretrained", init)):
            model, train_s = train_kind(
                "bilstm", x["train"][keep], y["train"][keep], x["dev"], y["dev"], vocab_size,
                max(epochs, 3) if fraction < 1 else epochs, init=initializer,
            )  # fmt: skip
            predicted = model.predict(x["test"], verbose=0).argmax(-1)
            row[arm] = float(np.mean(predicted == y["test"]))
            row[f"{arm}_s"] = train_s
        rows.append(row)
        print(json.dumps(row))
    print(
        "\n| training data | examples | from scratch | LM-pretrained | gain |\n|---|---|---|---|---|"
    )
    for r in rows:
        print(
            f"| {100 * r['fraction']:g}% | {r['train_examples']} | {100 * r['scratch']:.1f}% | "
            f"{100 * r['pretrained']:.1f}% | {100 * (r['pretrained'] - r['scratch']):+.1f} |"
        )
    return rows


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
