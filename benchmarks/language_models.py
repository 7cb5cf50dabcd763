"""Language models on UD English EWT word forms: Kneser-Ney vs LSTM vs mLSTM, and LSTM-LM speed.

Issue #16 evidence, printed side by side in one run:

1. Perplexity (words) and bits per character (characters) on the EWT test
   file, training on the dev file (its last 10% of sentences held out for early
   stopping), closed vocabulary with `<unk>` built from the training part
   (words seen once become `<unk>`, so every model has learned `<unk>`).
   Every model scores exactly the same targets: `test[1:]` of the same id
   stream (the neural models in windows of 35 words / 100 characters whose
   first target has the previous token as context), and perplexity is
   `exp(mean NLL)` over them.
2. Training speed of the word LSTM LM (batch 32 x 35 tokens): tokens per
   second with `jit_compile=True`, with `jit_compile=False`, and the same model
   in PyTorch (CPU, its own process: `language_models_torch_peer.py`).

    .venv/bin/python benchmarks/language_models.py [--epochs 8] [--char-epochs 3]
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DATA = os.environ.get("UD_EWT", "/work/shared/data/ud-english-ewt")


def load_corpus(level):
    from keras_dlss.datasets import build_language_model_corpus, conllu_word_forms

    dev = conllu_word_forms(os.path.join(DATA, "en_ewt-ud-dev.conllu"))
    test = conllu_word_forms(os.path.join(DATA, "en_ewt-ud-test.conllu"))
    if level == "char":
        dev, test = ([list(" ".join(s)) for s in split] for split in (dev, test))
    cut = int(0.9 * len(dev))
    return build_language_model_corpus(
        dev[:cut], dev[cut:], test, level=level, min_count=2 if level == "word" else 1
    )


def neural_nll(corpus, cell, units, window, epochs, args, seed=0):
    """Mean test NLL (nats) of an RNN LM trained with early stopping; seconds; epochs run."""
    import keras

    from keras_dlss.applications import RNNLanguageModel

    keras.utils.set_random_seed(seed)
    word = corpus.level == "word"
    model = RNNLanguageModel(
        len(corpus.vocabulary),
        level=corpus.level,
        cell=cell,
        units=units,
        embedding_dim=(args.embedding_dim or units) if word else 64,
        dropout=(0.5 if args.dropout is None else args.dropout) if word else 0.1,
        recurrent_dropout=args.recurrent_dropout,
    )
    optimizer = "auto"  # Adam(3e-3, clipnorm 1)
    if args.weight_decay or args.lr != 3e-3:
        optimizer = keras.optimizers.AdamW(
            args.lr, weight_decay=args.weight_decay, clipnorm=1.0
        )  # fmt: skip
    model.compile(optimizer=optimizer, jit_compile=True)
    x, y = corpus.windows("train", window)
    callbacks = [keras.callbacks.EarlyStopping(patience=args.patience, restore_best_weights=True)]
    if args.lr_decay < 1:  # halve (say) the step size whenever validation loss stops improving
        callbacks.append(keras.callbacks.ReduceLROnPlateau(factor=args.lr_decay, patience=0))
    start = time.perf_counter()
    if args.budget_minutes:  # end cleanly (best weights restored) after the epoch past the budget
        callbacks.append(
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: setattr(
                    model, "stop_training",
                    time.perf_counter() - start > 60 * args.budget_minutes or model.stop_training,
                )
            )
        )  # fmt: skip
    history = model.fit(
        x,
        y,
        batch_size=32,
        epochs=epochs,
        validation_data=corpus.windows("valid", window),
        callbacks=callbacks,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    tx, ty = corpus.windows("test", window)
    total = -model.log_likelihood(tx, ty).sum()
    return total / np.count_nonzero(ty), seconds, len(history.history["loss"])


def ngram_nll(corpus, order, smoothing="kneser_ney"):
    from keras_dlss.models import NGramLanguageModel

    lm = NGramLanguageModel(order, len(corpus.vocabulary), smoothing=smoothing)
    lm.fit(np.concatenate([corpus.train, corpus.valid]))
    return -np.nanmean(lm.token_log_probs(corpus.test))


def quality(args):
    rows = []
    for level, window, units, epochs, orders in (
        ("word", 35, args.units, args.epochs, (2, 3)),
        ("char", 100, args.units, args.char_epochs, (3, 5)),
    ):
        if level not in args.levels.split(","):
            continue
        corpus = load_corpus(level)
        n = np.count_nonzero(corpus.test[1:])
        print(f"# {level}: |V|={len(corpus.vocabulary)} train={len(corpus.train)} test targets={n}")
        for order in orders if not args.no_ngrams else ():
            rows.append((level, f"Kneser-Ney {order}-gram", ngram_nll(corpus, order), 0.0))
            print(f"# {rows[-1]}", flush=True)
        if not args.no_ngrams:
            rows.append((level, "add-1 3-gram", ngram_nll(corpus, 3, "add_k"), 0.0))
        for cell in args.cells.split(","):
            nll, seconds, ran = neural_nll(corpus, cell, units, window, epochs, args)
            name = f"{cell.upper()} LM ({units} units, tied{args.tag}), {ran} epochs"
            rows.append((level, name, nll, seconds))
            print(f"# {rows[-1]}", flush=True)  # a long run keeps what it finished
    print("\n| level | model | test perplexity | test bits/token | train s |")
    print("|---|---|---|---|---|")
    for level, name, nll, seconds in rows:
        print(
            f"| {level} | {name} | {math.exp(nll):.2f} | {nll / math.log(2):.3f} | {seconds:.0f} |"
        )


def keras_tokens_per_s(jit_compile, vocab, units, batch, length, steps):
    import keras

    from keras_dlss.applications import RNNLanguageModel

    model = RNNLanguageModel(vocab, units=units, embedding_dim=units)
    model.compile(jit_compile=jit_compile)
    rng = np.random.default_rng(0)
    x = rng.integers(1, vocab, (batch, length)).astype("int32")
    y = rng.integers(1, vocab, (batch, length)).astype("int32")
    for _ in range(3):
        model.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    del keras
    return batch * length / statistics.median(times)


def speed(args):
    vocab, batch, length = args.speed_vocab, 32, 35
    xla = keras_tokens_per_s(True, vocab, args.units, batch, length, args.steps)
    graph = keras_tokens_per_s(False, vocab, args.units, batch, length, args.steps)
    peer = os.path.join(os.path.dirname(__file__), "language_models_torch_peer.py")
    out = subprocess.run(
        [
            sys.executable,
            peer,
            "--vocab",
            str(vocab),
            "--units",
            str(args.units),
            "--steps",
            str(args.steps),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    torch_tps = json.loads(out.stdout.strip().splitlines()[-1])["torch_tokens_per_s"]
    print(
        f"\nLSTM LM training, V={vocab}, {args.units} units, batch {batch} x {length} tokens, "
        f"median of {args.steps} steps"
    )
    print("| implementation | tokens/s | vs PyTorch |\n|---|---|---|")
    for name, tps in (
        ("keras-dlss, jit_compile=True", xla),
        ("keras-dlss, jit_compile=False", graph),
        ("PyTorch 2.13 CPU (own process)", torch_tps),
    ):
        print(f"| {name} | {tps:,.0f} | {tps / torch_tps:.2f}x |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--char-epochs", type=int, default=3)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--levels", default="word,char", help="word, char or both")
    parser.add_argument("--cells", default="lstm,mlstm", help="neural LMs to train")
    parser.add_argument("--speed-vocab", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--only", choices=["quality", "speed"], default=None)
    regularize = parser.add_argument_group("word-level neural LM training")
    regularize.add_argument("--dropout", type=float, default=None, help="default 0.5")
    regularize.add_argument("--recurrent-dropout", type=float, default=0.0)
    regularize.add_argument("--embedding-dim", type=int, default=None, help="default: --units")
    regularize.add_argument("--patience", type=int, default=1, help="early stopping")
    regularize.add_argument("--lr", type=float, default=3e-3)
    regularize.add_argument("--lr-decay", type=float, default=1.0, help="ReduceLROnPlateau")
    regularize.add_argument("--weight-decay", type=float, default=0.0, help="AdamW")
    regularize.add_argument("--no-ngrams", action="store_true", help="neural rows only")
    regularize.add_argument("--budget-minutes", type=float, default=None)
    args = parser.parse_args()
    args.tag = "".join(
        f", {name} {getattr(args, attr)}"
        for name, attr, default in (
            ("emb", "embedding_dim", None),
            ("dropout", "dropout", None),
            ("rec. dropout", "recurrent_dropout", 0.0),
            ("patience", "patience", 1),
            ("lr", "lr", 3e-3),
            ("lr decay", "lr_decay", 1.0),
            ("wd", "weight_decay", 0.0),
        )
        if getattr(args, attr) != default
    )
    if args.only != "speed":
        quality(args)
    if args.only != "quality":
        speed(args)


if __name__ == "__main__":
    main()
