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
   Word-level neural rows are also scored in 16 long rows (state carried).
   The AWD-LSTM options (Merity et al. 2018) that beat Kneser-Ney:
   `--batch-size 8 --embedding-dropout 0.1 --locked-dropout --average 0.995
   --shift-windows` (see docs/language-models.md); `--evaluate MODEL.keras
   [--interpolate]` re-scores a model saved with `--save`.
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


def _weight_average(keras, decay):
    """Validate with, and keep, an exponential moving average of the weights (Polyak averaging).

    The average is swapped in for each validation pass, so early stopping and
    the learning-rate schedule judge the averaged model; training ends with the
    average that validated best.
    """

    class WeightAverage(keras.callbacks.Callback):
        average = raw = best = None
        best_loss = math.inf

        def on_train_batch_end(self, batch, logs=None):
            weights = [v.numpy() for v in self.model.trainable_variables]
            if self.average is None:
                self.average = weights
            else:
                for a, w in zip(self.average, weights):
                    a *= decay
                    a += (1 - decay) * w

        def _assign(self, values):
            for v, value in zip(self.model.trainable_variables, values):
                v.assign(value)

        def on_test_begin(self, logs=None):
            if self.average is not None:
                self.raw = [v.numpy() for v in self.model.trainable_variables]
                self._assign(self.average)

        def on_test_end(self, logs=None):
            if self.raw is not None:
                self._assign(self.raw)
                self.raw = None

        def on_epoch_end(self, epoch, logs=None):
            if logs["val_loss"] < self.best_loss:
                self.best_loss = logs["val_loss"]
                self.best = [a.copy() for a in self.average]

        def on_train_end(self, logs=None):
            self._assign(self.best)

    return WeightAverage()


def _shifted_windows(keras, stream, window, batch_size, seed):
    """Training windows cut at a new random offset every epoch (Merity et al. 2018 vary theirs)."""
    from keras_dlss.datasets.text_corpus import stream_windows

    class ShiftedWindows(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.rows = (len(stream) - window - 1) // window  # the same count at every offset
            self.on_epoch_end()

        def on_epoch_end(self):
            x, y = stream_windows(stream[self.rng.integers(window) :], window)
            order = self.rng.permutation(self.rows)
            self.x, self.y = x[order], y[order]

        def __len__(self):
            return -(-self.rows // batch_size)

        def __getitem__(self, i):
            part = slice(i * batch_size, (i + 1) * batch_size)
            return self.x[part], self.y[part]

    return ShiftedWindows()


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
        embedding_dropout=args.embedding_dropout if word else 0.0,
        locked_dropout=args.locked_dropout and word,
    )
    optimizer = "auto"  # Adam(3e-3, clipnorm 1)
    if args.weight_decay or args.lr != 3e-3:
        optimizer = keras.optimizers.AdamW(
            args.lr, weight_decay=args.weight_decay, clipnorm=1.0
        )  # fmt: skip
    model.compile(optimizer=optimizer, jit_compile=True)
    x, y = corpus.windows("train", window)
    batch_size = args.batch_size if word else 32
    if args.shift_windows and word:
        x, y = _shifted_windows(keras, corpus.train, window, batch_size, seed), None
    callbacks = [keras.callbacks.EarlyStopping(patience=args.patience, restore_best_weights=True)]
    if args.lr_decay < 1:  # halve (say) the step size whenever validation loss stops improving
        callbacks.append(keras.callbacks.ReduceLROnPlateau(factor=args.lr_decay, patience=0))
    callbacks.append(
        keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: print(
                f"#   epoch {epoch + 1}: val_loss {logs['val_loss']:.4f}", flush=True
            )
        )
    )
    if args.average and word:  # last: its final weights replace EarlyStopping's
        callbacks.append(_weight_average(keras, args.average))
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
        batch_size=None if y is None else batch_size,
        epochs=epochs,
        validation_data=corpus.windows("valid", window),
        callbacks=callbacks,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    if args.save:
        model.save(args.save)
    return heldout_test_nlls(model, corpus, window), seconds, len(history.history["loss"])


def heldout_test_nlls(model, corpus, window):
    """Test NLLs: windows of `window` tokens, each from a fresh state; at the word level also long rows.

    The long rows cut the test stream into 16 contiguous pieces, each read as one sequence
    with its state carried throughout (as Merity et al. 2018 evaluate, 10 rows there): the
    same targets, with more context for the tokens a window would start with.
    """
    nlls = []
    for length in (window, -(-len(corpus.test) // 16)) if corpus.level == "word" else (window,):
        tx, ty = corpus.windows("test", length)
        nlls.append(-model.log_likelihood(tx, ty).sum() / np.count_nonzero(ty))
    return nlls


def lstm_token_log_probs(model, stream, window=35):
    """Log-probability of each `stream[1:]` token under a word LM, windows of `window` tokens."""
    from keras import ops

    from keras_dlss.datasets.text_corpus import stream_windows

    x, y = stream_windows(stream, window)
    out = []
    for rows in range(0, len(x), 64):
        log_probs = ops.log_softmax(model(x[rows : rows + 64], training=False), axis=-1)
        picked = ops.take_along_axis(log_probs, ops.cast(y[rows : rows + 64, :, None], "int32"), 2)
        out.append(ops.convert_to_numpy(picked)[..., 0].reshape(-1))
    return np.concatenate(out)[: len(stream) - 1]


def interpolated_nll(model, corpus):
    """Test NLL of `lam * LSTM + (1 - lam) * Kneser-Ney 3-gram`, `lam` chosen on the validation split.

    `lam` is fitted with the 3-gram counted on train only (validation is then unseen by both);
    the test mixture uses the 3-gram counted on train + validation, like its own row.
    """
    from keras_dlss.models import NGramLanguageModel

    def mixture_nll(lam, lstm, ngram):
        keep = ~np.isnan(ngram)
        return -np.mean(np.logaddexp(np.log(lam) + lstm[keep], np.log1p(-lam) + ngram[keep]))

    train_only = NGramLanguageModel(3, len(corpus.vocabulary)).fit(corpus.train)
    valid = (lstm_token_log_probs(model, corpus.valid), train_only.token_log_probs(corpus.valid))
    lam = min(np.linspace(0.05, 0.95, 19), key=lambda lam: mixture_nll(lam, *valid))
    full = NGramLanguageModel(3, len(corpus.vocabulary))
    full.fit(np.concatenate([corpus.train, corpus.valid]))
    test = (lstm_token_log_probs(model, corpus.test), full.token_log_probs(corpus.test))
    return lam, mixture_nll(lam, *test)


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
            nlls, seconds, ran = neural_nll(corpus, cell, units, window, epochs, args, args.seed)
            name = f"{cell.upper()} LM ({units} units, tied{args.tag}), {ran} epochs"
            for nll, scored in zip(nlls, (f"windows of {window}", "16 long rows")):
                rows.append((level, f"{name}, {scored}", nll, seconds))
                print(f"# {rows[-1]}", flush=True)  # a long run keeps what it finished
    print("\n| level | model | test perplexity | test bits/token | train s |")
    print("|---|---|---|---|---|")
    for level, name, nll, seconds in rows:
        print(
            f"| {level} | {name} | {math.exp(nll):.2f} | {nll / math.log(2):.3f} | {seconds:.0f} |"
        )


def _set_tf_threads(threads):
    """Pin TensorFlow's intra- and inter-op pools (before any op runs: `--only speed`)."""
    if not threads:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TF already ran ops (the quality part): keep its defaults
        print("# TensorFlow already initialized: --threads not applied to Keras", flush=True)


def keras_lm_step(jit_compile, vocab, units, batch, length, lstm=None):
    """A compiled, warmed-up `train_on_batch` of the LM (the library default compile).

    `lstm="keras"` swaps in plain `keras.layers.LSTM` (what the LM used before
    `HoistedLSTM`), to measure that change in the same run.
    """
    import importlib

    import keras

    from keras_dlss.applications import RNNLanguageModel

    language_model = importlib.import_module("keras_dlss.applications.language_model")
    rnn_class = language_model.HoistedLSTM
    if lstm == "keras":
        language_model.HoistedLSTM = keras.layers.LSTM
    try:
        model = RNNLanguageModel(vocab, units=units, embedding_dim=units)
    finally:
        language_model.HoistedLSTM = rnn_class
    model.compile(jit_compile=jit_compile)
    rng = np.random.default_rng(0)
    x = rng.integers(1, vocab, (batch, length)).astype("int32")
    y = rng.integers(1, vocab, (batch, length)).astype("int32")
    for _ in range(3):
        model.train_on_batch(x, y)

    def step():  # (wall seconds, CPU seconds of the whole process)
        start, cpu = time.perf_counter(), time.process_time()
        model.train_on_batch(x, y)
        return time.perf_counter() - start, time.process_time() - cpu

    return step


def speed(args):
    """Interleaved rounds (ours, PyTorch, ours, ...); medians over every timed step."""
    vocab, batch, length = args.speed_vocab, 32, 35
    _set_tf_threads(args.threads)
    ours = {
        "keras-dlss, jit_compile=True": keras_lm_step(True, vocab, args.units, batch, length),
        "keras-dlss, jit_compile=False": keras_lm_step(False, vocab, args.units, batch, length),
    }
    if args.plain_lstm_row:
        ours["same, plain keras.layers.LSTM, jit_compile=True"] = keras_lm_step(
            True, vocab, args.units, batch, length, lstm="keras"
        )
    peer = os.path.join(os.path.dirname(__file__), "language_models_torch_peer.py")
    command = [sys.executable, peer, "--vocab", str(vocab), "--units", str(args.units)]
    command += ["--steps", str(args.steps)]
    command += ["--threads", str(args.threads)] if args.threads else []
    torch_name = "PyTorch 2.13 CPU (own process)"
    times = {name: [] for name in [*ours, torch_name]}
    for _ in range(args.rounds):
        for name, step in ours.items():
            times[name] += [step() for _ in range(args.steps)]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        times[torch_name] += list(zip(result["step_seconds"], result["step_cpu_seconds"]))
    # Wall clock is the measure on an idle machine; under load, CPU seconds per step
    # (all threads of the process) show the work each side does, whatever its share.
    tps = {n: batch * length / statistics.median(w for w, _ in t) for n, t in times.items()}
    cps = {n: batch * length / statistics.median(c for _, c in t) for n, t in times.items()}
    load = os.getloadavg()[0]
    print(
        f"\nLSTM LM training, V={vocab}, {args.units} units, batch {batch} x {length} tokens, "
        f"{args.rounds} interleaved rounds x {args.steps} steps (median), "
        f"threads={args.threads or 'default'}, load average {load:.1f}"
    )
    print("| implementation | tokens/s | vs PyTorch | tokens per CPU-second | vs PyTorch |")
    print("|---|---|---|---|---|")
    for name, value in tps.items():
        print(
            f"| {name} | {value:,.0f} | {value / tps[torch_name]:.2f}x "
            f"| {cps[name]:,.0f} | {cps[name] / cps[torch_name]:.2f}x |"
        )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--char-epochs", type=int, default=3)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--levels", default="word,char", help="word, char or both")
    parser.add_argument("--cells", default="lstm,mlstm", help="neural LMs to train")
    parser.add_argument("--speed-vocab", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="speed: interleaved rounds")
    parser.add_argument("--threads", type=int, default=None, help="speed: TF and torch threads")
    parser.add_argument(
        "--plain-lstm-row", action="store_true", help="speed: also time keras.layers.LSTM"
    )
    parser.add_argument("--only", choices=["quality", "speed"], default=None)
    regularize = parser.add_argument_group("word-level neural LM training")
    regularize.add_argument("--dropout", type=float, default=None, help="default 0.5")
    regularize.add_argument("--recurrent-dropout", type=float, default=0.0)
    regularize.add_argument("--embedding-dim", type=int, default=None, help="default: --units")
    regularize.add_argument("--patience", type=int, default=1, help="early stopping")
    regularize.add_argument("--lr", type=float, default=3e-3)
    regularize.add_argument("--lr-decay", type=float, default=1.0, help="ReduceLROnPlateau")
    regularize.add_argument("--weight-decay", type=float, default=0.0, help="AdamW")
    regularize.add_argument("--batch-size", type=int, default=32)
    regularize.add_argument("--seed", type=int, default=0)
    regularize.add_argument("--evaluate", default=None, help="score a saved word LM, no training")
    regularize.add_argument("--interpolate", action="store_true", help="with --evaluate: + KN")
    regularize.add_argument("--save", default=None, help="save the (last) neural LM here")
    regularize.add_argument("--embedding-dropout", type=float, default=0.0, help="word types")
    regularize.add_argument("--locked-dropout", action="store_true", help="one mask per row")
    regularize.add_argument("--average", type=float, default=0.0, help="weight EMA decay")
    regularize.add_argument("--shift-windows", action="store_true", help="new offset per epoch")
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
            ("batch", "batch_size", 32),
            ("emb. dropout", "embedding_dropout", 0.0),
            ("locked", "locked_dropout", False),
            ("EMA", "average", 0.0),
            ("shifted", "shift_windows", False),
            ("seed", "seed", 0),
            ("lr", "lr", 3e-3),
            ("lr decay", "lr_decay", 1.0),
            ("wd", "weight_decay", 0.0),
        )
        if getattr(args, attr) != default
    )
    if args.evaluate:  # a saved word-level LM, scored as in `quality`
        import keras

        import keras_dlss.applications  # noqa: F401  (registers RNNLanguageModel)

        model, corpus = keras.saving.load_model(args.evaluate), load_corpus("word")
        nlls = heldout_test_nlls(model, corpus, 35)
        print(f"# {args.evaluate}: test perplexity (windows of 35, 16 long rows)",
              [round(math.exp(nll), 2) for nll in nlls])  # fmt: skip
        if args.interpolate:
            lam, nll = interpolated_nll(model, corpus)
            print(f"# with Kneser-Ney 3-gram, weight {lam:.2f} on the LSTM: {math.exp(nll):.2f}")
    elif args.only != "speed":
        quality(args)
    if args.only != "quality":
        speed(args)


if __name__ == "__main__":
    main()
