"""Linearized seq2seq dependency parsing (Vinyals et al. 2015) on the embedded UD English EWT.

Sentences are translated by the attention `Seq2SeqTranslator` into their
bracketed trees (`keras_dlss.datasets.linearize_tree`: `(label` ... `XX` ...
`)`), trained on the EWT dev slice and decoded greedily on the test slice (gold
tokenization, no POS tags). Reports UAS and LAS (punctuation included; an
ill-formed output counts as all words wrong) and the rate of outputs that are
not well-formed trees: the curriculum's "doesn't exploit structure" in one
number.

    .venv/bin/python benchmarks/linearized_parsing.py [--max-words 15 --epochs 12]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_dlss.applications import Seq2SeqTranslator  # noqa: E402
from keras_dlss.datasets import (  # noqa: E402
    delinearize,
    is_projective,
    linearize_tree,
    read_conllu_trees,  # noqa: E402
)
from keras_dlss.datasets.ud_english_ewt import ud_english_ewt_path  # noqa: E402

START, END = 1, 2


def load(split, max_words):
    trees = read_conllu_trees(ud_english_ewt_path(split))
    return [t for t in trees if len(t) <= max_words and is_projective(t.heads)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-words", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--units", type=int, default=128)
    args = parser.parse_args()
    train, test = load("dev", args.max_words), load("test", args.max_words)
    words = sorted({w.lower() for t in train for w in t.words})
    source_vocab = {w: i for i, w in enumerate(["<pad>", "<unk>", *words])}
    targets = [linearize_tree(t.heads, t.deprels) for t in train]
    target_tokens = sorted({x for seq in targets for x in seq})
    target_vocab = ["<pad>", "<start>", "<end>", *target_tokens]
    target_ids = {x: i for i, x in enumerate(target_vocab)}
    length = 3 * args.max_words + 1

    def encode(trees):
        src = np.zeros((len(trees), args.max_words), "int32")
        tgt = np.zeros((len(trees), length), "int32")
        for r, t in enumerate(trees):
            ids = [source_vocab.get(w.lower(), 1) for w in t.words]
            src[r, : len(ids)] = ids
            seq = [target_ids.get(x, 0) for x in linearize_tree(t.heads, t.deprels)] + [END]
            tgt[r, : len(seq)] = seq
        return src, tgt

    (src, tgt), (test_src, _) = encode(train), encode(test)
    keras.utils.set_random_seed(0)
    model = Seq2SeqTranslator(
        len(source_vocab),
        len(target_vocab),
        embedding_dim=64,
        units=args.units,
        max_output_length=length,
        start_id=START,
        end_id=END,
        dropout=0.2,
        seed=0,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
    )
    start = time.perf_counter()
    model.fit((src, tgt), tgt, batch_size=32, epochs=args.epochs, verbose=0)
    train_s = time.perf_counter() - start
    predicted = keras.ops.convert_to_numpy(model.greedy_search(test_src)[0])
    ill, heads_ok, labels_ok, total = 0, 0, 0, 0
    for tree, row in zip(test, predicted):
        tokens = []
        for i in row:
            if i == END:
                break
            tokens.append(target_vocab[i])
        parsed = delinearize(tokens, len(tree))
        total += len(tree)
        if parsed is None:
            ill += 1
            continue
        heads, labels = parsed
        for h, lab, gh, gl in zip(heads, labels, tree.heads, tree.deprels):
            heads_ok += h == gh
            labels_ok += h == gh and lab == gl
    print(
        f"EWT train=dev ({len(train)} projective sentences <= {args.max_words} words), "
        f"test={len(test)}; {args.epochs} epochs in {train_s:.0f} s (shared, loaded machine)"
    )
    print("| model | UAS | LAS | ill-formed outputs |")
    print("|---|---|---|---|")
    print(
        f"| linearized seq2seq (attention LSTM, greedy) | {heads_ok / total:.3f} | "
        f"{labels_ok / total:.3f} | {ill / len(test):.3f} ({ill}/{len(test)}) |"
    )


if __name__ == "__main__":
    main()
