"""Deeper RNNs (issue #16): char-level LMs and a 2-D LSTM on digits, side by side in one run.

1. Character-level language models on the bundled corpus (the Python
   documentation topics shipped with CPython, `load_text_corpus(level="char")`):
   LSTM vs `StackedRNN` (2 LSTM layers, skip connections, Graves 2013) vs
   `HierarchicalMultiscaleLSTM` (2 layers, Chung et al. 2017) vs the
   multiplicative LSTM, every model `Embedding -> recurrence -> Dense`, the same
   optimizer (Adam 3e-3, clipnorm 1), the same number of steps on the same
   windows, XLA-compiled. Reported: test bits per character over the same
   targets, parameters, training seconds. For the HM-LSTM, the learned
   first-layer boundaries on the test text against word boundaries
   (precision/recall of `z[t] = 1` where character `t` is a space, and where
   character `t` ends a word, i.e. the next one is a space).
2. A 2-D LSTM (`MultiDimensionalRNN`, four directions, final corner states)
   vs a 1-D LSTM over the rows, on scikit-learn's bundled 8x8 digits
   (BSD-3-Clause), same epochs and optimizer, graph mode (`--image-jit` for XLA):
   test accuracy, parameters, time.

    .venv/bin/python benchmarks/deep_rnns.py [--steps 400] [--units 128] [--only lm|image]
"""

import argparse
import os
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def char_windows(args):
    from keras_dlss.datasets import load_text_corpus

    corpus = load_text_corpus(level="char")
    x, y = corpus.windows("train", args.window)
    tx, ty = corpus.windows("test", args.window)
    tx, ty = tx[: args.test_windows], ty[: args.test_windows]
    return corpus, x, y, tx, ty


def lm_model(kind, vocab, units, hm_layer=None):
    import keras

    from keras_dlss.layers import MultiplicativeLSTMCell, StackedRNN

    tokens = keras.Input((None,), dtype="int32")
    e = keras.layers.Embedding(vocab, 32)(tokens)
    if kind == "LSTM":
        h = keras.layers.LSTM(units, return_sequences=True)(e)
    elif kind == "mLSTM":
        h = keras.layers.RNN(MultiplicativeLSTMCell(units), return_sequences=True)(e)
    elif kind == "Stacked LSTM, skip":
        h = StackedRNN(units, num_layers=2, connections="skip")(e)
    else:
        h, z = hm_layer(e)
        return keras.Model(tokens, keras.layers.Dense(vocab)(h)), keras.Model(tokens, z)
    return keras.Model(tokens, keras.layers.Dense(vocab)(h)), None


def bits_per_char(model, tx, ty):
    logits = model.predict(tx, batch_size=64, verbose=0).astype("float64")
    logits -= logits.max(-1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, ty[..., None], -1)[..., 0]
    keep = ty != 0
    return float(nll[keep].mean() / np.log(2)), int(keep.sum())


def boundary_scores(probe, corpus, tx):
    z = probe.predict(tx, batch_size=64, verbose=0)[..., 0] > 0.5
    space = corpus.vocabulary.index(" ")
    is_space = tx == space
    ends_word = np.zeros_like(is_space)
    ends_word[:, :-1] = (tx[:, 1:] == space) & ~is_space[:, :-1]
    valid = tx != 0
    rows = {}
    for name, gold in (("character is a space", is_space), ("character ends a word", ends_word)):
        tp = float((z & gold & valid).sum())
        rows[name] = (tp / max((z & valid).sum(), 1), tp / max((gold & valid).sum(), 1))
    return float(z[valid].mean()), rows


def _timer_callback():
    import keras

    class FirstBatchTimer(keras.callbacks.Callback):
        """Wall time at the end of the first batch: what follows excludes XLA compilation."""

        seconds = None

        def on_train_batch_end(self, batch, logs=None):
            if self.seconds is None:
                self.seconds = time.perf_counter()

    return FirstBatchTimer


def run_lm(args):
    import keras

    from keras_dlss.layers import HierarchicalMultiscaleLSTM

    corpus, x, y, tx, ty = char_windows(args)
    vocab = len(corpus.vocabulary)
    rng = np.random.default_rng(0)
    order = rng.integers(0, len(x), (args.steps, args.batch))
    print(
        f"\nchar LM: |V|={vocab}, {len(x) * args.window} training characters, "
        f"{args.steps} Adam steps of {args.batch} x {args.window}, test targets below"
    )
    table = []
    for kind, units in (
        ("LSTM", args.units),
        ("Stacked LSTM, skip", args.units // 2 + args.units // 4),
        ("HM-LSTM", args.units // 2 + args.units // 4),
        ("mLSTM", args.units),
    ):
        keras.utils.set_random_seed(0)
        hm = None
        if kind == "HM-LSTM":
            hm = HierarchicalMultiscaleLSTM(units, num_layers=2, return_boundaries=True)
        model, probe = lm_model(kind, vocab, units, hm)
        model.compile(
            keras.optimizers.Adam(3e-3, clipnorm=1.0),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
            jit_compile=True,
        )
        first = _timer_callback()()
        callbacks = [first]
        if hm is not None:  # slope 1 -> 5 over training (Chung et al. anneal per epoch)
            callbacks.append(
                keras.callbacks.LambdaCallback(
                    on_train_batch_end=lambda b, logs, hm=hm: hm.slope.assign(
                        1.0 + 4.0 * min(1.0, b / args.steps)
                    )
                )
            )
        start = time.perf_counter()
        model.fit(
            x[order.reshape(-1)],
            y[order.reshape(-1)],
            batch_size=args.batch,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=callbacks,
        )
        seconds = time.perf_counter() - start
        compile_s = first.seconds - start
        bpc, targets = bits_per_char(model, tx, ty)
        table.append((kind, units, model.count_params(), bpc, seconds - compile_s, compile_s))
        if probe is not None:
            rate, scores = boundary_scores(probe, corpus, tx)
    print(f"test targets: {targets}")
    print(
        "| model | units/layer | parameters | test bits/char | train s | first step s (XLA compile) |"
    )
    print("|---|---|---|---|---|---|")
    for kind, units, params, bpc, seconds, compile_s in table:
        print(f"| {kind} | {units} | {params:,} | {bpc:.3f} | {seconds:.0f} | {compile_s:.0f} |")
    print(f"\nHM-LSTM layer-1 boundaries on the test text: fire at {rate:.1%} of characters")
    print("| gold boundary | precision | recall |")
    print("|---|---|---|")
    for name, (p, r) in scores.items():
        print(f"| {name} | {p:.3f} | {r:.3f} |")


def run_image(args):
    import keras
    from sklearn.datasets import load_digits

    from keras_dlss.layers import MultiDimensionalRNN

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(images))
    train, test = perm[:1437], perm[1437:]
    print(f"\ndigits 8x8: {len(train)} train / {len(test)} test images, {args.image_epochs} epochs")
    print("| model | parameters | test accuracy | train s |")
    print("|---|---|---|---|")
    for name in ("1-D LSTM over rows (64 units)", "2-D LSTM, 4 directions (16 units each)"):
        keras.utils.set_random_seed(0)
        if name.startswith("1-D"):
            inputs = keras.Input((8, 8))
            h = keras.layers.LSTM(64)(inputs)
            data = images
        else:
            inputs = keras.Input((8, 8, 1))
            h = MultiDimensionalRNN(16, directions=4, return_grid=False)(inputs)
            data = images[..., None]
        model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(h))
        model.compile(
            optimizer=keras.optimizers.Adam(3e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=args.image_jit,
        )
        start = time.perf_counter()
        model.fit(
            data[train], digits.target[train], batch_size=32, epochs=args.image_epochs, verbose=0
        )
        seconds = time.perf_counter() - start
        acc = model.evaluate(data[test], digits.target[test], verbose=0)[1]
        print(f"| {name} | {model.count_params():,} | {acc:.3f} | {seconds:.0f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["lm", "image"])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--test-windows", type=int, default=200)
    parser.add_argument("--image-epochs", type=int, default=15)
    # XLA on CPU compiles the unrolled 2-D scan slowly (minutes under load) and runs it slower
    # than graph mode: off by default for the image comparison, both models alike.
    parser.add_argument("--image-jit", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2-core machine)")
    if args.only in (None, "lm"):
        run_lm(args)
    if args.only in (None, "image"):
        run_image(args)


if __name__ == "__main__":
    main()
