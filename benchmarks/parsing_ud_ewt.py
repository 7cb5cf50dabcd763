"""Dependency parsing on UD English EWT: accuracy and speed, side by side in one run.

Protocol (issue #17): train on `en_ewt-ud-dev.conllu` (2,001 sentences; 10% held
out for early stopping), evaluate on the whole `en_ewt-ud-test.conllu` (2,077
sentences), gold tokenization. Arms:

- biaffine, gold UPOS as input (the Dozat & Manning setting);
- biaffine, words only, parser alone;
- biaffine, words only, joint UPOS tagging head (multi-task over the shared BiLSTM);
- stack-lstm arc-standard / stack-lstm arc-hybrid: `StackLSTMParser` (Dyer et al.
  2015), words only, static oracle, greedy decoding (XLA), `--time-budget` caps its
  training time; `stack-lstm+bilstm arc-standard` adds a 2 x 64 BiLSTM encoder;
  `stack-lstm arc-hybrid dynamic` trains with the dynamic oracle and exploration
  (`--explore-p`, after 2 static epochs); `stack-lstm+upos arc-hybrid` reads gold UPOS.

Scores are UAS/LAS over all words (CoNLL 2018) and without punctuation (CoNLL-X),
after Chu-Liu/Edmonds decoding. Speed: sentences/s of the network at batch 64 and
41 positions (40 words + ROOT), Keras on TensorFlow with XLA and as a plain graph,
against a PyTorch biaffine parser of the same size in its own process; MST decoding
(NumPy, shared by every arm) is timed apart.

    .venv/bin/python benchmarks/parsing_ud_ewt.py [--epochs 15] [--repeats 10]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "ud-english-ewt")


def _trees(split):
    from keras_dlss.datasets import read_conllu_trees

    return read_conllu_trees(os.path.join(DATA, f"en_ewt-ud-{split}.conllu"))


def time_budget(seconds):
    """A callback that stops training after the epoch that ends past `seconds` (None: no cap)."""
    import keras

    class TimeBudget(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if seconds and time.perf_counter() - self.start > seconds:
                self.model.stop_training = True

    return TimeBudget()


def train_stack_lstm(arm, train, val, test, epochs, batch_size, budget, explore_p=0.9):
    import keras

    from keras_dlss.applications.parser_task import build_vocabularies, encode_trees
    from keras_dlss.applications.stack_lstm_exploration import DynamicOracle, static_data
    from keras_dlss.applications.stack_lstm_task import (
        TransitionBuckets,
        build_stack_lstm,
        oracle_data,
    )
    from keras_dlss.metrics import attachment_scores

    keras.utils.set_random_seed(0)
    system = next(w for w in arm.split() if w.startswith("arc-"))
    dynamic, upos = arm.endswith(" dynamic"), "+upos" in arm
    info = build_vocabularies(train, max_length=max(len(t) for t in train))
    # "stack-lstm+bilstm ...": a BiLSTM under the token layer (Kiperwasser & Goldberg 2016).
    extra = {"encoder_units": 64} if "+bilstm" in arm else {}
    if upos:  # gold UPOS input, ids 1..k and k + 1 for ROOT, as the biaffine gold-UPOS arm
        extra["upos_vocabulary_size"] = len(info["upos"]) + 2
    oracle = "dynamic" if dynamic else "static"
    model = build_stack_lstm(info, 2e-3, False, system=system, oracle=oracle, **extra)
    enc = lambda trees: encode_trees(trees, info, with_upos_input=upos)  # noqa: E731
    train_xy = enc(train)
    prepare = (
        (lambda xy: static_data(xy, system)) if dynamic else (lambda xy: oracle_data(xy, system))
    )
    (x, y), val_xy = prepare(train_xy), prepare(enc(val))
    buckets = TransitionBuckets(x, y, batch_size)
    stop = keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)
    callbacks = [stop, time_budget(budget)]
    if dynamic:  # explore after 2 static epochs, every epoch after that
        callbacks.insert(0, DynamicOracle(buckets, train_xy, explore_p, warmup=2))
    start = time.perf_counter()
    history = model.fit(
        buckets, validation_data=val_xy, epochs=epochs, callbacks=callbacks, verbose=2
    )
    seconds = time.perf_counter() - start
    tx, _ = enc(test)
    start = time.perf_counter()
    heads, labels, _ = model.parse(tx, jit_compile=True)
    parse_s = time.perf_counter() - start
    n = [len(t) for t in test]
    scores = attachment_scores(
        [t.heads for t in test],
        [t.deprels for t in test],
        [heads[i, 1 : n[i] + 1] for i in range(len(test))],
        [[info["deprels"][r] for r in labels[i, 1 : n[i] + 1]] for i in range(len(test))],
        upos=[t.upos for t in test],
    )
    scores.update(epochs=len(history.history["loss"]), train_s=seconds)
    scores["parse_sentences_per_s"] = len(test) / parse_s
    scores["val_loss"] = [round(v, 4) for v in history.history["val_loss"]]
    return model, info, scores


def train_and_score(arm, train, val, test, epochs, batch_size=32, jit_compile=False):
    import keras

    from keras_dlss.applications import BiaffineParser
    from keras_dlss.applications.parser_task import LengthBuckets, build_vocabularies, encode_trees
    from keras_dlss.metrics import attachment_scores

    keras.utils.set_random_seed(0)
    upos_input = arm == "gold UPOS"
    info = build_vocabularies(train, max_length=max(len(t) for t in train))
    enc = lambda trees: encode_trees(trees, info, with_upos_input=upos_input)  # noqa: E731
    (x, y), val_xy, (tx, ty) = enc(train), enc(val), enc(test)
    model = BiaffineParser(
        len(info["words"]["tokens"]),
        len(info["deprels"]),
        upos_vocabulary_size=len(info["upos"]) + 2 if upos_input else None,
        num_tags=len(info["upos"]) if arm == "joint UPOS head" else None,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3, beta_2=0.9, clipnorm=5.0), jit_compile=jit_compile
    )
    stop = keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(
        LengthBuckets(x, y, batch_size),
        validation_data=val_xy,
        epochs=epochs,
        callbacks=[stop],
        verbose=2,
    )
    seconds = time.perf_counter() - start
    heads, labels, tags = model.parse(tx)
    n = [len(t) for t in test]
    scores = attachment_scores(
        [t.heads for t in test],
        [t.deprels for t in test],
        [heads[i, 1 : n[i] + 1] for i in range(len(test))],
        [[info["deprels"][r] for r in labels[i, 1 : n[i] + 1]] for i in range(len(test))],
        upos=[t.upos for t in test],
    )
    if tags is not None:
        mask = ty["tags"] >= 0
        scores["upos_accuracy"] = float((tags[mask] == ty["tags"][mask]).mean())
    scores.update(epochs=len(history.history["loss"]), train_s=seconds)
    return model, info, scores


def speed(model, info, batch, length, repeats):
    import keras
    import tensorflow as tf

    from keras_dlss.ops import maximum_spanning_tree

    rng = np.random.default_rng(0)
    x = {"words": rng.integers(3, len(info["words"]["tokens"]), (batch, length)).astype("int32")}
    x["upos"] = rng.integers(1, len(info["upos"]) + 2, (batch, length)).astype("int32")
    result = {}
    for mode, jit in (("Keras XLA", True), ("Keras graph", False)):
        fn = tf.function(lambda x: model(x, training=False), jit_compile=jit)
        keras.tree.map_structure(lambda t: t.numpy(), fn(x))
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            out = fn(x)
            out["arcs"].numpy()
            times.append(time.perf_counter() - start)
        result[mode] = batch / statistics.median(times)
    arcs = out["arcs"].numpy()
    start = time.perf_counter()
    maximum_spanning_tree(arcs)
    result["MST decoding (NumPy)"] = batch / (time.perf_counter() - start)
    cfg = {
        "vocab": len(info["words"]["tokens"]),
        "upos": len(info["upos"]) + 2,
        "labels": len(info["deprels"]),
        "batch": batch,
        "length": length,
        "repeats": repeats,
    }
    peer = os.path.join(os.path.dirname(__file__), "parsing_torch_peer.py")
    done = subprocess.run([sys.executable, peer, json.dumps(cfg)], capture_output=True, text=True)
    result["PyTorch (own process)"] = (
        json.loads(done.stdout.strip().splitlines()[-1])["sentences_per_s"]
        if done.returncode == 0
        else float("nan")
    )
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--arms", default="gold UPOS,parser alone,joint UPOS head")
    # Training runs as a TensorFlow graph by default: each bucket width is one more XLA
    # compilation, which costs more than it saves over a few epochs on a loaded CPU.
    parser.add_argument("--xla-training", action="store_true")
    parser.add_argument("--time-budget", type=float, default=None, help="stack-LSTM seconds")
    parser.add_argument("--explore-p", type=float, default=0.9, help="stack-LSTM dynamic arm")
    args = parser.parse_args()
    dev, test = _trees("dev"), _trees("test")
    order = np.random.default_rng(0).permutation(len(dev))
    cut = int(0.9 * len(dev))
    train, val = [dev[i] for i in order[:cut]], [dev[i] for i in order[cut:]]
    print(f"train {len(train)} / validation {len(val)} / test {len(test)} sentences (gold tokens)")
    rows, fastest = [], None
    for arm in args.arms.split(","):
        if arm.startswith("stack-lstm"):
            model, info, s = train_stack_lstm(
                arm, train, val, test, args.epochs, 32, args.time_budget, args.explore_p
            )
        else:
            model, info, s = train_and_score(
                arm, train, val, test, args.epochs, jit_compile=args.xla_training
            )
        rows.append((arm, s))
        print(arm, json.dumps(s), flush=True)
        if arm == "gold UPOS":
            try:
                fastest = speed(model, info, 64, 41, args.repeats)
                print(json.dumps(fastest), flush=True)
            except Exception as error:  # keep the accuracy rows of a long run
                print(f"speed measurement failed: {error!r}", flush=True)
    print("\n| arm | UAS | LAS | UAS no punct | LAS no punct | UPOS acc | epochs | train s |")
    print("|---|---|---|---|---|---|---|---|")
    for arm, s in rows:
        acc = f"{s['upos_accuracy']:.4f}" if "upos_accuracy" in s else "-"
        name = arm if arm.startswith("stack-lstm") else f"biaffine, {arm}"
        print(
            f"| {name} | {s['uas']:.4f} | {s['las']:.4f} | {s['uas_no_punct']:.4f} | "
            f"{s['las_no_punct']:.4f} | {acc} | {s['epochs']} | {s['train_s']:.0f} |"
        )
    if fastest:
        torch_speed = fastest["PyTorch (own process)"]
        print("\n| network forward, batch 64 x 41 positions | sentences/s | vs PyTorch |")
        print("|---|---|---|")
        for mode, value in fastest.items():
            ratio = "-" if "MST" in mode else f"{value / torch_speed:.2f}x"
            print(f"| {mode} | {value:.0f} | {ratio} |")


if __name__ == "__main__":
    main()
