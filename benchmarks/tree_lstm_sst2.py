"""SST-2 sentence classification: Tree-LSTMs (Tai et al. 2015) vs a sequential BiLSTM.

Trees (`--trees`, comma-separated) are `left`, the dependency-free left-branching
fallback the issue allows (each word's head is the next word, the last word is the
root: the parse of ((w1 w2) w3) ...), and/or `parser`: the dependency trees our
`BiaffineParser` gives (`--parser MODEL.keras`, saved with its vocabularies in
`MODEL.keras.json` by `benchmarks/parsing_ud_ewt.py --save`; a words-only parser,
it reads no UPOS, with lowercased char-CNN input since SST-2 text is lowercased).
The BiLSTM reads no tree. Trains on a random subset of `../shared/data/sst2/train.tsv`
(phrases and sentences) and reports accuracy on the 872 test sentences, with training
time per epoch (shared, loaded machine).

    .venv/bin/python benchmarks/tree_lstm_sst2.py [--train 6000 --epochs 3 --max-words 30]
        [--trees left,parser --parser /tmp/parser.keras]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_dlss.datasets.text_classification import read_text_classification  # noqa: E402
from keras_dlss.layers import ChildSumTreeLSTM, NaryTreeLSTM  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "sst2")


def encode(texts, vocab, max_words):
    ids = np.zeros((len(texts), max_words), "int32")
    heads = np.zeros((len(texts), max_words), "int32")
    for r, text in enumerate(texts):
        words = text.lower().split()[:max_words] or ["<unk>"]
        n = len(words)
        ids[r, :n] = [vocab.get(w, 1) for w in words]
        heads[r, : n - 1] = np.arange(2, n + 1)  # left-branching: head = next word
    return ids, heads


def parser_heads(texts, path, max_words):
    """`[B, max_words]` 1-based heads (0 = root) of each text, parsed by a saved BiaffineParser."""
    import json

    import keras_dlss.applications  # noqa: F401  (registers BiaffineParserModel for loading)
    from keras_dlss.datasets.conll import Vocabulary, encode_characters

    model = keras.models.load_model(path)
    with open(path + ".json") as f:
        info = json.load(f)
    sentences = [["<root>"] + (t.lower().split()[:max_words] or ["<unk>"]) for t in texts]
    x = {"words": Vocabulary(**info["words"]).encode(sentences, max_length=max_words + 1)}
    if "chars" in info:
        x["chars"] = encode_characters(sentences, Vocabulary(**info["chars"]), max_words + 1, 16)
    heads, _, _ = model.parse(x)
    return heads[:, 1:].astype("int32")


def build(kind, vocab_size, max_words, units):
    tokens = keras.Input((max_words,), dtype="int32")
    heads = keras.Input((max_words,), dtype="int32")
    x = keras.layers.Embedding(vocab_size, 64)(tokens)
    mask = keras.ops.not_equal(tokens, 0)
    if kind == "bilstm":
        h = keras.layers.Bidirectional(keras.layers.LSTM(units // 2))(x, mask=mask)
    elif kind == "child-sum":
        h = ChildSumTreeLSTM(units, return_root=True)(x, heads, mask=mask)
    else:
        h = NaryTreeLSTM(units, num_children=2, return_root=True)(x, heads, mask=mask)
    out = keras.layers.Dense(2)(keras.layers.Dropout(0.3)(h))
    model = keras.Model([tokens, heads], out)
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-words", type=int, default=30)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--kinds", default="bilstm,child-sum,nary")
    parser.add_argument("--trees", default="left", help="left and/or parser, comma-separated")
    parser.add_argument("--parser", default=None, help="saved BiaffineParser for --trees parser")
    args = parser.parse_args()
    texts, labels, _ = read_text_classification(os.path.join(DATA, "train.tsv"))
    test_texts, test_labels, _ = read_text_classification(os.path.join(DATA, "test.tsv"))
    keep = np.random.default_rng(0).permutation(len(texts))[: args.train]
    texts, labels = [texts[i] for i in keep], np.asarray(labels)[keep]
    counts = {}
    for t in texts:
        for w in t.lower().split():
            counts[w] = counts.get(w, 0) + 1
    words = sorted(w for w, c in counts.items() if c >= 1)
    vocab = {w: i + 2 for i, w in enumerate(words)}
    x, heads = encode(texts, vocab, args.max_words)
    tx, theads = encode(test_texts, vocab, args.max_words)
    trees = {"left": (heads, theads)}
    if "parser" in args.trees:
        start = time.perf_counter()
        trees["parser"] = tuple(
            parser_heads(t, args.parser, args.max_words) for t in (texts, test_texts)
        )
        chains = np.mean([(h[h > 0] == np.nonzero(h)[0] + 2).all() for h in trees["parser"][1]])
        print(
            f"parsed {len(texts) + len(test_texts)} texts in {time.perf_counter() - start:.0f} s; "
            f"{chains:.1%} of the test parses are left-branching chains"
        )
    print(
        f"SST-2: {len(texts)} training phrases, {len(test_texts)} test sentences, "
        f"{args.epochs} epochs (shared, loaded machine)"
    )
    print("| model | trees | test accuracy | s/epoch |")
    print("|---|---|---|---|")
    for kind in args.kinds.split(","):
        for tree in ["-"] if kind == "bilstm" else args.trees.split(","):
            h, th = trees["left" if tree == "-" else tree]
            keras.utils.set_random_seed(0)
            model = build(kind, len(vocab) + 2, args.max_words, args.units)
            start = time.perf_counter()
            model.fit([x, h], labels, batch_size=64, epochs=args.epochs, verbose=0)
            per_epoch = (time.perf_counter() - start) / args.epochs
            _, acc = model.evaluate([tx, th], np.asarray(test_labels), verbose=0)
            print(f"| {kind} | {tree} | {acc:.3f} | {per_epoch:.1f} |", flush=True)


if __name__ == "__main__":
    main()
