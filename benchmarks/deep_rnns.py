"""Deeper RNNs (issue #16): char-level LMs and a 2-D LSTM on digits, side by side.

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

3. Equal-size long runs (`--model hm|stacked|gf`, one model per process, so they
   can run side by side): the HM-LSTM with `--units` per layer, and a 2-layer
   stacked LSTM with skip connections and a 2-layer gated-feedback LSTM (Chung
   et al. 2015) whose units are chosen to match its parameter count (the
   nearest by bisection). The HM-LSTM slope follows the paper's schedule,
   `min(5, 1 + 0.04 * epoch)` (epoch = one pass of windows). Every
   `--eval-every` steps one line: validation and test bits/char over the same
   targets and, for the HM-LSTM, boundary precision/recall. `--report LOG...`
   prints the table at the last step every log reached (no selection on test;
   the best-validation step is shown beside it).

    nice -n 5 .venv/bin/python benchmarks/deep_rnns.py --model hm --units 96 --steps 8000 > hm.log
    .venv/bin/python benchmarks/deep_rnns.py --report hm.log stacked.log gf.log
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
    elif kind == "Gated-feedback LSTM":
        h = StackedRNN(units, num_layers=2, connections="gated_feedback")(e)
    else:
        h, z = hm_layer(e)
        return keras.Model(tokens, keras.layers.Dense(vocab)(h)), keras.Model(tokens, z)
    return keras.Model(tokens, keras.layers.Dense(vocab)(h)), None


def matched_units(kind, vocab, target):
    """Units per layer whose model has the parameter count closest to `target`."""
    from keras_dlss.layers import HierarchicalMultiscaleLSTM

    def count(units):
        hm = HierarchicalMultiscaleLSTM(units, num_layers=2, return_boundaries=True)
        return lm_model(kind, vocab, units, hm)[0].count_params()

    low, high = 4, 1024
    while high - low > 1:  # parameters grow with units: bisect
        mid = (low + high) // 2
        low, high = (mid, high) if count(mid) <= target else (low, mid)
    return min((low, high), key=lambda u: abs(count(u) - target))


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


LONG_KINDS = {"hm": "HM-LSTM", "stacked": "Stacked LSTM, skip", "gf": "Gated-feedback LSTM"}


def run_lm_long(args):
    """One model, trained for `--steps`, evaluated every `--eval-every` steps (one line each).

    Each model runs in its own process (`--model`), so several can run side by side; `--report`
    then reads their logs and prints the table at the last step every model reached.
    """
    import keras

    corpus, x, y, tx, ty = char_windows(args)
    vx, vy = corpus.windows("valid", args.window)
    vx, vy = vx[: args.test_windows], vy[: args.test_windows]
    vocab = len(corpus.vocabulary)
    kind = LONG_KINDS[args.model]
    target = lm_model("HM-LSTM", vocab, args.units, _hm(args.units))[0].count_params()
    units = args.units if args.model == "hm" else matched_units(kind, vocab, target)
    keras.utils.set_random_seed(0)
    hm = _hm(units) if args.model == "hm" else None
    model, probe = lm_model(kind, vocab, units, hm)
    model.compile(
        keras.optimizers.Adam(args.lr, clipnorm=1.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
        jit_compile=True,
    )
    steps_per_epoch = len(x) // args.batch
    print(
        f"model={kind} units={units} params={model.count_params()} (HM-LSTM {args.units} units: "
        f"{target}) |V|={vocab} train_chars={len(x) * args.window} "
        f"steps/epoch={steps_per_epoch} batch={args.batch}x{args.window} lr={args.lr}",
        flush=True,
    )
    rng = np.random.default_rng(0)
    start, done = time.perf_counter(), 0
    while done < args.steps:
        chunk = min(args.eval_every, args.steps - done)
        order = rng.integers(0, len(x), chunk * args.batch)
        callbacks = []
        if hm is not None:  # Chung et al. 2017: slope = min(5, 1 + 0.04 * epoch)
            callbacks.append(
                keras.callbacks.LambdaCallback(
                    on_train_batch_begin=lambda b, logs, d=done: hm.slope.assign(
                        min(5.0, 1.0 + 0.04 * (d + b) / steps_per_epoch)
                    )
                )
            )
        history = model.fit(
            x[order],
            y[order],
            batch_size=args.batch,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=callbacks,
        )
        done += chunk
        line = (
            f"ckpt model={args.model} step={done} epoch={done / steps_per_epoch:.1f} "
            f"train_loss={history.history['loss'][-1]:.4f} "
            f"valid_bpc={bits_per_char(model, vx, vy)[0]:.4f} "
            f"test_bpc={bits_per_char(model, tx, ty)[0]:.4f} "
            f"seconds={time.perf_counter() - start:.0f} load={os.getloadavg()[0]:.1f}"
        )
        if probe is not None:
            rate, scores = boundary_scores(probe, corpus, tx)
            (ps, rs), (pe, re_) = scores.values()
            line += (
                f" slope={float(hm.slope):.2f} fire={rate:.4f} space_p={ps:.3f} space_r={rs:.3f}"
                f" end_p={pe:.3f} end_r={re_:.3f}"
            )
        print(line, flush=True)


def _hm(units):
    from keras_dlss.layers import HierarchicalMultiscaleLSTM

    return HierarchicalMultiscaleLSTM(units, num_layers=2, return_boundaries=True)


def report(paths):
    """The table at the last checkpoint every log reached, and at each one's best valid step."""
    runs = {}
    for path in paths:
        head, ckpts = None, []
        for line in open(path):
            if line.startswith("model="):
                name, rest = line[len("model=") :].split(" units=", 1)
                units, params = rest.split()[:2]
                head = {"name": name, "units": units, "params": params.split("=")[1]}
            elif line.startswith("ckpt "):
                ckpts.append(dict(kv.split("=", 1) for kv in line.split()[1:]))
        runs[path] = (head, ckpts)
    common = min(int(c[-1]["step"]) for _, c in runs.values())
    print(
        f"| model | units/layer | parameters | test bits/char at step {common} | "
        "valid bits/char | best-valid step | test bits/char there | "
        "wall s to that step (with compile, evaluations) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for head, ckpts in runs.values():
        at = next(c for c in ckpts if int(c["step"]) == common)
        best = min(
            (c for c in ckpts if int(c["step"]) <= common), key=lambda c: float(c["valid_bpc"])
        )
        print(
            f"| {head['name']} | {head['units']} | {int(head['params']):,} | {at['test_bpc']} | "
            f"{at['valid_bpc']} | {best['step']} | {best['test_bpc']} | {at['seconds']} |"
        )
    for _head, ckpts in runs.values():
        at = next(c for c in ckpts if int(c["step"]) == common)
        if "fire" in at:
            print(
                f"\nHM-LSTM layer-1 boundaries on the test text at step {common} "
                f"(slope {at['slope']}): fire at {float(at['fire']):.1%} of characters"
            )
            print("| gold boundary | precision | recall |\n|---|---|---|")
            print(f"| character is a space | {at['space_p']} | {at['space_r']} |")
            print(f"| character ends a word | {at['end_p']} | {at['end_r']} |")


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
    parser.add_argument("--model", choices=sorted(LONG_KINDS), help="one long run, own process")
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--report", nargs="+", metavar="LOG", help="table from --model logs")
    args = parser.parse_args()
    if args.report:
        return report(args.report)
    if args.model:
        return run_lm_long(args)
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2-core machine)")
    if args.only in (None, "lm"):
        run_lm(args)
    if args.only in (None, "image"):
        run_image(args)


if __name__ == "__main__":
    main()
