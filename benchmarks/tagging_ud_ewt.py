"""UPOS tagging on UD English EWT: BiLSTM-CRF vs the same network with a softmax head.

Trains on en_ewt-ud-dev.conllu (2,001 sentences), evaluates token accuracy on
en_ewt-ud-test.conllu (2,077 sentences), for a CRF head and a per-token softmax
head (the comparison of Lample et al., 2016). Target: >= 90% with the CRF.
The data is read from ../shared/data relative to the repository root; the
script skips with a message when it is absent.

    .venv/bin/python benchmarks/tagging_ud_ewt.py [--epochs 12] [--heads crf,softmax]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from keras_dlss.applications import BiLSTMCRFTagger  # noqa: E402
from keras_dlss.applications.tagger import encode_tagged  # noqa: E402
from keras_dlss.datasets import Vocabulary, read_conllu  # noqa: E402
from keras_dlss.metrics import TokenAccuracy, token_accuracy  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, os.pardir, "shared", "data", "ud-english-ewt")


def load(max_length):
    train_words, train_tags = read_conllu(os.path.join(DATA, "en_ewt-ud-dev.conllu"))
    test_words, test_tags = read_conllu(os.path.join(DATA, "en_ewt-ud-test.conllu"))
    info = {
        # Words seen once map to <unk> so the model learns an OOV embedding;
        # the character CNN carries their spelling.
        "words": Vocabulary.build(train_words, min_count=2, lowercase=True).get_config(),
        "chars": Vocabulary.build([list(w) for s in train_words for w in s]).get_config(),
        "tags": sorted({t for s in train_tags for t in s}),
        "max_length": max_length,
        "max_word_length": 16,
    }
    return info, encode_tagged(train_words, train_tags, info), (test_words, test_tags)


def run(head, info, train, test, epochs, seed):
    keras.utils.set_random_seed(seed)
    model = BiLSTMCRFTagger(
        len(info["words"]["tokens"]),
        len(info["tags"]),
        char_vocabulary_size=len(info["chars"]["tokens"]),
        embedding_dim=100,
        lstm_units=100,
        dropout=0.3,
        head=head,
        scheme=None,
    )
    if head == "crf":
        model.compile(
            optimizer=keras.optimizers.Adam(3e-3), metrics=[TokenAccuracy()], jit_compile=True
        )
    else:
        model.compile(
            optimizer=keras.optimizers.Adam(3e-3),
            loss="sparse_categorical_crossentropy",
            metrics=[TokenAccuracy()],
            jit_compile=True,
        )
    x, y = train
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    seconds = time.perf_counter() - start
    words, tags = test
    x_test, _ = encode_tagged(words, None, {**info, "max_length": max(len(s) for s in words)})
    pred = model.predict(x_test, batch_size=64, verbose=0)
    if head == "softmax":
        pred = pred.argmax(-1)
    labels = info["tags"]
    guess = [[labels[t] for t in row[: len(s)]] for row, s in zip(pred, words)]
    return token_accuracy(tags, guess), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--heads", default="crf,softmax")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not os.path.isdir(DATA):
        print(f"SKIPPED: UD English EWT not found at {os.path.abspath(DATA)}")
        return
    info, train, test = load(args.max_length)
    print(
        f"train: {len(train[1])} sentences (dev), test: {len(test[0])} sentences, {len(info['tags'])} UPOS tags"
    )
    print(f"{'head':<8} {'test UPOS accuracy':>19} {'train time':>11}")
    for head in args.heads.split(","):
        accuracy, seconds = run(head, info, train, test, args.epochs, args.seed)
        print(f"{head:<8} {accuracy * 100:>18.2f}% {seconds:>10.0f}s", flush=True)


if __name__ == "__main__":
    main()
