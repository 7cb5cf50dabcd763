"""Dependency parsing on UD English EWT: accuracy and speed, side by side in one run.

Protocol (issue #17): train on `en_ewt-ud-dev.conllu` (2,001 sentences; 10% held
out for early stopping), evaluate on the whole `en_ewt-ud-test.conllu` (2,077
sentences), gold tokenization. Arms:

- biaffine, gold UPOS as input (the Dozat & Manning setting);
- biaffine, words only, parser alone;
- biaffine, words only, joint UPOS tagging head (multi-task over the shared BiLSTM);
- any biaffine arm + " + chars" (e.g. "gold UPOS + chars"): `BiaffineParser`'s char-CNN
  word feature (`--lower-chars` lowercases its input); `--word-dropout`, `--select uas`
  (early stopping on held-out UAS, `--patience`, `--time-budget`), model sizes and
  `--save MODEL.keras` (vocabularies in `MODEL.keras.json`, read by tree_lstm_sst2.py);
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


def char_inputs(trees, width, alphabet, lowercase=False):
    """`[B, width, 16]` character ids of `<root>` + each tree's words (see `BiaffineParser`)."""
    from keras_dlss.datasets.conll import Vocabulary, encode_characters

    vocab = Vocabulary(**alphabet)
    sentences = [["<root>"] + [w.lower() if lowercase else w for w in t.words] for t in trees]
    return encode_characters(sentences, vocab, width, 16)


def uas_selection(val_x, val_y, patience, budget=None):
    """Early stopping on held-out UAS (all words, MST-decoded): best weights restored at the end."""
    import keras

    class BestUAS(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.best, self.best_epoch, self.weights, self.history = -1.0, 0, None, []
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            heads, _, _ = self.model.parse(val_x)
            gold = val_y["heads"]
            uas = float((heads[gold >= 0] == gold[gold >= 0]).mean())
            self.history.append(round(uas, 4))
            print(f"epoch {epoch + 1}: held-out UAS {uas:.4f}", flush=True)
            if uas > self.best:
                self.best, self.best_epoch = uas, epoch + 1
                self.weights = self.model.get_weights()
            elif epoch + 1 - self.best_epoch >= patience:
                self.model.stop_training = True
            if budget and time.perf_counter() - self.start > budget:
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            if self.weights is not None:
                self.model.set_weights(self.weights)

    return BestUAS()


def train_and_score(arm, train, val, test, epochs, batch_size=32, jit_compile=False, opts=None):
    """`arm`: "gold UPOS" / "parser alone" / "joint UPOS head", optionally "... + chars".

    `opts` (from the command line): model sizes, `word_dropout` (rate at which training
    words become the unknown word, Dozat & Manning's word dropout), `select` ("loss" or
    "uas": early stopping on held-out loss or held-out UAS), `patience`, `budget` (s).
    """
    import keras

    from keras_dlss.applications import BiaffineParser
    from keras_dlss.applications.parser_task import LengthBuckets, build_vocabularies, encode_trees
    from keras_dlss.datasets.conll import Vocabulary
    from keras_dlss.metrics import attachment_scores

    opts = opts or {}
    keras.utils.set_random_seed(0)
    base, chars = arm.split(" + ")[0], arm.endswith("+ chars")
    upos_input = base == "gold UPOS"
    info = build_vocabularies(train, max_length=max(len(t) for t in train))
    if chars:
        info["chars"] = Vocabulary.build(
            [list(w.lower() if opts.get("lower_chars") else w) for t in train for w in t.words]
        ).get_config()

    def enc(trees):
        x, y = encode_trees(trees, info, with_upos_input=upos_input)
        if chars:
            x["chars"] = char_inputs(
                trees, x["words"].shape[1], info["chars"], opts.get("lower_chars")
            )
        return x, y

    (x, y), val_xy, (tx, ty) = enc(train), enc(val), enc(test)
    sizes = {
        k: opts[k] for k in ("lstm_units", "lstm_layers", "arc_units", "label_units") if k in opts
    }
    model = BiaffineParser(
        len(info["words"]["tokens"]),
        len(info["deprels"]),
        upos_vocabulary_size=len(info["upos"]) + 2 if upos_input else None,
        num_tags=len(info["upos"]) if base == "joint UPOS head" else None,
        char_vocabulary_size=len(info["chars"]["tokens"]) if chars else None,
        **sizes,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3, beta_2=0.9, clipnorm=5.0), jit_compile=jit_compile
    )
    patience = opts.get("patience", 3)
    if opts.get("select") == "uas":
        callbacks = [uas_selection(val_xy[0], val_xy[1], patience, opts.get("budget"))]
    else:
        callbacks = [keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)]
    rate = opts.get("word_dropout", 0.0)
    unk = info["words"]["tokens"].index("<unk>")
    rng = np.random.default_rng(1)

    class WordDropout(LengthBuckets):
        """Dozat & Manning's word dropout: a fresh draw for every batch of every epoch."""

        def __getitem__(self, i):
            bx, by = super().__getitem__(i)
            words = bx["words"].copy()
            hit = (rng.random(words.shape) < rate) & (words > 0)
            hit[:, 0] = False  # the ROOT stays
            words[hit] = unk
            return {**bx, "words": words}, by

    data = (WordDropout if rate else LengthBuckets)(x, y, batch_size)
    start = time.perf_counter()
    history = model.fit(data, validation_data=val_xy, epochs=epochs, callbacks=callbacks, verbose=2)
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
    if opts.get("select") == "uas":
        scores["held_out_uas"] = callbacks[0].history
        scores["best_epoch"] = callbacks[0].best_epoch
    if opts.get("save"):
        model.save(opts["save"])
        with open(opts["save"] + ".json", "w") as f:
            json.dump(info, f)
    return model, info, scores


def speed(model, info, batch, length, repeats, rounds=1, threads=None):
    """Network forward, interleaved rounds (Keras XLA, graph, PyTorch peers, ...).

    Returns `{mode: (sentences/s, sentences per CPU-second)}`, medians over every
    timed call: wall clock is the measure on an idle machine; under load, CPU
    seconds per call (all threads of the process) show the work each side does.
    """
    import keras
    import tensorflow as tf

    from keras_dlss.ops import maximum_spanning_tree

    rng = np.random.default_rng(0)
    x = {"words": rng.integers(3, len(info["words"]["tokens"]), (batch, length)).astype("int32")}
    x["upos"] = rng.integers(1, len(info["upos"]) + 2, (batch, length)).astype("int32")
    fns = {}
    for mode, jit in (("Keras XLA", True), ("Keras graph", False)):
        fns[mode] = tf.function(lambda x: model(x, training=False), jit_compile=jit)
        keras.tree.map_structure(lambda t: t.numpy(), fns[mode](x))
    cfg = {
        "vocab": len(info["words"]["tokens"]),
        "upos": len(info["upos"]) + 2,
        "labels": len(info["deprels"]),
        "batch": batch,
        "length": length,
        "repeats": repeats,
        **({"threads": threads} if threads else {}),
    }
    peer = os.path.join(os.path.dirname(__file__), "parsing_torch_peer.py")
    # The packed peer skips padding in its BiLSTM as our masked one does (no padding here).
    peers = {"PyTorch (own process)": False, "PyTorch, packed sequences (own process)": True}
    times = {name: [] for name in [*fns, *peers]}
    for _ in range(rounds):
        for mode, fn in fns.items():
            for _ in range(repeats):
                start, cpu = time.perf_counter(), time.process_time()
                out = fn(x)
                out["arcs"].numpy()
                times[mode].append((time.perf_counter() - start, time.process_time() - cpu))
        for name, pack in peers.items():
            done = subprocess.run(
                [sys.executable, peer, json.dumps({**cfg, "pack": pack})],
                capture_output=True,
                text=True,
            )
            if done.returncode == 0:
                r = json.loads(done.stdout.strip().splitlines()[-1])
                times[name] += list(zip(r["seconds"], r["cpu_seconds"]))
    nan = (float("nan"), float("nan"))
    result = {
        name: (
            batch / statistics.median(w for w, _ in t),
            batch / statistics.median(c for _, c in t),
        )
        if t
        else nan
        for name, t in times.items()
    }
    arcs = out["arcs"].numpy()
    start, cpu = time.perf_counter(), time.process_time()
    maximum_spanning_tree(arcs)
    result["MST decoding (NumPy)"] = (
        batch / (time.perf_counter() - start),
        batch / max(time.process_time() - cpu, 1e-9),
    )
    return result


def speed_table(fastest, title="network forward, batch 64 x 41 positions"):
    torch_wall, torch_cpu = fastest["PyTorch (own process)"]
    print(f"\n| {title} | sentences/s | vs PyTorch | sentences per CPU-s | vs PyTorch |")
    print("|---|---|---|---|---|")
    for mode, (wall, cpu) in fastest.items():
        if "MST" in mode:
            print(f"| {mode} | {wall:.0f} | - | {cpu:.0f} | - |")
        else:
            print(
                f"| {mode} | {wall:.0f} | {wall / torch_wall:.2f}x | {cpu:.0f} "
                f"| {cpu / torch_cpu:.2f}x |"
            )


def speed_only(train, args):
    """`--speed-only`: an untrained gold-UPOS biaffine parser (weights do not change its speed)."""
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from keras_dlss.applications import BiaffineParser
    from keras_dlss.applications.parser_task import build_vocabularies

    info = build_vocabularies(train, max_length=max(len(t) for t in train))
    model = BiaffineParser(
        len(info["words"]["tokens"]),
        len(info["deprels"]),
        upos_vocabulary_size=len(info["upos"]) + 2,
    )
    fastest = speed(model, info, 64, 41, args.repeats, args.rounds, args.threads)
    print(
        f"\n{args.rounds} interleaved rounds x {args.repeats} calls (median), "
        f"threads={args.threads or 'default'}, load average {os.getloadavg()[0]:.1f}"
    )
    speed_table(fastest)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1, help="speed: interleaved rounds")
    parser.add_argument("--threads", type=int, default=None, help="speed: TF and torch threads")
    parser.add_argument("--speed-only", action="store_true", help="speed table, no training")
    parser.add_argument("--arms", default="gold UPOS,parser alone,joint UPOS head")
    # Training runs as a TensorFlow graph by default: each bucket width is one more XLA
    # compilation, which costs more than it saves over a few epochs on a loaded CPU.
    parser.add_argument("--xla-training", action="store_true")
    parser.add_argument("--time-budget", type=float, default=None, help="stack-LSTM seconds")
    parser.add_argument("--explore-p", type=float, default=0.9, help="stack-LSTM dynamic arm")
    # Biaffine options (defaults: BiaffineParser's sizes, early stopping on held-out loss).
    parser.add_argument("--lstm-units", type=int, default=128)
    parser.add_argument("--lstm-layers", type=int, default=2)
    parser.add_argument("--arc-units", type=int, default=256)
    parser.add_argument("--label-units", type=int, default=64)
    parser.add_argument("--word-dropout", type=float, default=0.0)
    parser.add_argument("--select", choices=("loss", "uas"), default="loss")
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--lower-chars", action="store_true", help="lowercase char-CNN input")
    parser.add_argument("--save", default=None, help="save the (last) biaffine model here")
    args = parser.parse_args()
    dev, test = _trees("dev"), _trees("test")
    order = np.random.default_rng(0).permutation(len(dev))
    cut = int(0.9 * len(dev))
    train, val = [dev[i] for i in order[:cut]], [dev[i] for i in order[cut:]]
    print(f"train {len(train)} / validation {len(val)} / test {len(test)} sentences (gold tokens)")
    if args.speed_only:
        return speed_only(train, args)
    rows, fastest = [], None
    for arm in args.arms.split(","):
        if arm.startswith("stack-lstm"):
            model, info, s = train_stack_lstm(
                arm, train, val, test, args.epochs, 32, args.time_budget, args.explore_p
            )
        else:
            opts = {k: getattr(args, k) for k in ("lstm_units", "lstm_layers", "arc_units")}
            opts.update(label_units=args.label_units, word_dropout=args.word_dropout)
            opts.update(select=args.select, patience=args.patience, save=args.save)
            opts.update(budget=args.time_budget, lower_chars=args.lower_chars)
            model, info, s = train_and_score(
                arm, train, val, test, args.epochs, jit_compile=args.xla_training, opts=opts
            )
        rows.append((arm, s))
        print(arm, json.dumps(s), flush=True)
        if arm == "gold UPOS" and args.repeats > 0:
            try:
                fastest = speed(model, info, 64, 41, args.repeats, args.rounds, args.threads)
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
        speed_table(fastest)


if __name__ == "__main__":
    main()
