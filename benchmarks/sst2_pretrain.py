"""SST-2 pre-training for small data (Dai & Le 2015): BiLSTM from a pretrained biLM vs from scratch.

1. Pretrains a bidirectional LSTM language model (ELMo-style: the forward
   LSTM predicts the next word, the backward one the previous word, over the
   5,000 most frequent words) on all the text of `train.tsv`, used unlabeled.
   SST-2's 60,614 training phrases are sub-spans of about 7,000 sentences, so
   the LM reads each maximal phrase (one that is no sub-span of another) once:
   the same text, 4.3x fewer tokens. Per-word perplexity (each direction) is
   measured every epoch on the dev phrases whose text does not occur in
   `train.tsv` (766 phrases, mostly whole sentences) next to a unigram model's;
   the epoch with the lowest held-out perplexity is kept and its `embedding`
   and `bilstm` weights are saved once (`--lm-weights`) and reused by every arm.
2. Fine-tunes `TextClassifier(kind="bilstm")` from those weights and from
   scratch on the same fixed random subsets of `train.tsv` (same seed, same
   epochs, same early stopping on `dev.tsv` accuracy) and reports accuracy on
   the 872-sentence `test.tsv` of the epoch with the best dev accuracy.

    .venv/bin/python benchmarks/sst2_pretrain.py [--lm-epochs 10] [--fractions 0.01,0.1,1]

The arms can run as separate processes (`--lm-only`, then `--arms scratch` and
`--arms pretrained`, each with its own `--fractions`), all reusing the saved LM.

The test column of the per-epoch log is printed for the record only; nothing
is selected on `test.tsv`.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(__file__))

import keras  # noqa: E402
import sst2  # noqa: E402

from keras_dlss.applications.text_classifier import TextClassifier  # noqa: E402

LM_VOCABULARY = 5000  # the LM predicts the 5,000 most frequent words (others: <unk>)


class LMBatches(sst2.Buckets):
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


def maximal_phrases(ids):
    """Rows of `ids` whose token sequence is no contiguous sub-span of another row."""
    rows = [tuple(r[r > 0]) for r in ids]
    order = sorted(set(range(len(rows))), key=lambda i: -len(rows[i]))
    spans, keep, seen = set(), [], set()
    for i in order:
        if rows[i] in spans or rows[i] in seen:
            continue
        seen.add(rows[i])
        keep.append(i)
        n = len(rows[i])
        spans.update(rows[i][a:b] for a in range(n) for b in range(a + 1, n + 1))
    return np.array(sorted(keep)), spans


def build_bilm(vocab_size, dropout):
    _, hparams = sst2.SETTINGS["bilstm"]
    ids = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(
        vocab_size, hparams["embedding_dim"], mask_zero=True, name="embedding"
    )(ids)
    h = keras.layers.Dropout(dropout)(h)
    forward, backward = keras.layers.Bidirectional(
        keras.layers.LSTM(hparams["hidden_dim"], return_sequences=True),
        merge_mode=None,
        name="bilstm",
    )(h)
    outputs = [
        keras.layers.Dense(LM_VOCABULARY, name="next_word")(keras.layers.Dropout(dropout)(forward)),
        keras.layers.Dense(LM_VOCABULARY, name="previous_word")(
            keras.layers.Dropout(dropout)(backward)
        ),
    ]
    return keras.Model(ids, outputs)


def perplexities(lm, batches):
    """Per-word perplexity of each direction: exp(mean NLL) over the real (unmasked) targets."""
    nll, count = np.zeros(2), np.zeros(2)
    for i in range(len(batches.batches)):
        ids, targets, weights = batches.batch(i)
        logits = lm.predict_on_batch(ids)
        for d in range(2):
            z = np.asarray(logits[d], "float64")
            z = z - z.max(-1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
            picked = np.take_along_axis(logp, targets[d][..., None], -1)[..., 0]
            nll[d] -= (picked * weights[d]).sum()
            count[d] += weights[d].sum()
    return np.exp(nll / count)


def unigram_perplexity(train_batches, held_batches):
    """Add-one unigram model over the LM vocabulary, fitted on the training targets."""
    counts = np.ones(LM_VOCABULARY)
    for i in range(len(train_batches.batches)):
        _, (forward, _), (w, _) = train_batches.batch(i)
        np.add.at(counts, forward[w > 0], 1)
    logp = np.log(counts / counts.sum())
    nll = count = 0.0
    for i in range(len(held_batches.batches)):
        _, (forward, _), (w, _) = held_batches.batch(i)
        nll -= logp[forward[w > 0]].sum()
        count += (w > 0).sum()
    return float(np.exp(nll / count))


def pretrain(x_lm, x_held, vocab_size, epochs, path, learning_rate, budget_s, dropout=0.3, seed=0):
    keras.utils.set_random_seed(seed)
    lm = build_bilm(vocab_size, dropout)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    lm.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=[loss, loss], jit_compile=True)
    zeros = lambda x: np.zeros(len(x), "int32")  # noqa: E731
    train = LMBatches(x_lm, zeros(x_lm), 32, seed)
    held = LMBatches(x_held, zeros(x_held), 128)
    unigram = unigram_perplexity(train, held)
    print(json.dumps({"lm_unigram_heldout_ppl": round(unigram, 1)}), flush=True)
    best, log, start = np.inf, [], time.perf_counter()
    for epoch in range(epochs):
        lm.fit(train.dataset(), epochs=1, verbose=0)
        ppl = perplexities(lm, held)
        row = {
            "lm_epoch": epoch + 1,
            "seconds": round(time.perf_counter() - start),
            "heldout_ppl_forward": round(float(ppl[0]), 1),
            "heldout_ppl_backward": round(float(ppl[1]), 1),
            "load": round(os.getloadavg()[0], 1),
        }
        log.append(row)
        print(json.dumps(row), flush=True)
        if ppl.mean() < best:
            best = ppl.mean()
            # saved at every improvement so fine-tuning can start from it while the LM goes on
            save_encoder({n: lm.get_layer(n).get_weights() for n in ("embedding", "bilstm")}, path)
        elif epoch >= 2 and ppl.mean() > best * 1.02:
            break  # held-out perplexity rising: the LM is overfitting its 134k tokens
        if row["seconds"] > budget_s:
            break
    return {"unigram_ppl": unigram, "epochs": log, "seconds": time.perf_counter() - start}


def save_encoder(weights, path):
    with open(path + ".tmp", "wb") as f:  # renamed when complete: readers never see half a file
        np.savez(f, **{f"{n}/{i}": w for n, ws in weights.items() for i, w in enumerate(ws)})
    os.replace(path + ".tmp", path)


def load_encoder(path):
    with np.load(path) as f:
        out = {}
        for key in sorted(f.files, key=lambda k: (k.split("/")[0], int(k.split("/")[1]))):
            out.setdefault(key.split("/")[0], []).append(f[key])
    return out


def fine_tune(x_tr, y_tr, x_dev, y_dev, x_test, y_test, vocab_size, epochs, seed, encoder=None,
              learning_rate=1e-3, patience=3, freeze_epochs=0, jit_compile=False):  # fmt: skip
    """One arm: returns test accuracy of the best-dev-accuracy epoch, epochs run and seconds."""
    keras.utils.set_random_seed(seed)
    _, hparams = sst2.SETTINGS["bilstm"]
    model = TextClassifier(vocab_size, 2, "bilstm", **hparams)
    if encoder is not None:
        for name, weights in encoder.items():
            model.get_layer(name).set_weights(weights)
    train = sst2.Buckets(x_tr, y_tr, sst2.BATCH_SIZE, seed)
    dev = sst2.Buckets(x_dev, y_dev, 256).dataset()
    best, best_test, since, rows = -1.0, None, 0, []
    start = time.perf_counter()

    def compile_model():
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            # XLA compiles each bucket shape anew for every model: minutes per arm on a loaded CPU
            jit_compile=jit_compile,
        )

    frozen = encoder is not None and freeze_epochs > 0
    model.get_layer("embedding").trainable = not frozen
    compile_model()
    for epoch in range(epochs):
        if frozen and epoch == freeze_epochs:
            model.get_layer("embedding").trainable = True
            compile_model()
        model.fit(train.dataset(), epochs=1, verbose=0)
        dev_acc = model.evaluate(dev, verbose=0, return_dict=True)["accuracy"]
        test_acc = float(np.mean(model.predict(x_test, verbose=0).argmax(-1) == y_test))
        rows.append((epoch + 1, round(dev_acc, 4), round(test_acc, 4)))
        print(json.dumps({"epoch": rows[-1], "seconds": round(time.perf_counter() - start)}))
        if dev_acc > best:
            best, best_test, since = dev_acc, test_acc, 0
        else:
            since += 1
            if since >= patience:
                break
    return {
        "dev": best,
        "test": best_test,
        "epochs": len(rows),
        "seconds": time.perf_counter() - start,
        "log": rows,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lm-epochs", type=int, default=10)
    parser.add_argument("--lm-lr", type=float, default=2e-3)
    parser.add_argument("--lm-minutes", type=float, default=30, help="stop after the epoch past it")
    parser.add_argument("--jit", action="store_true", help="XLA for fine-tuning")
    parser.add_argument("--lm-only", action="store_true")
    parser.add_argument("--lm-weights", default="sst2_bilm.npz", help="reused if it exists")
    parser.add_argument("--fractions", default="0.01,0.1,1")
    parser.add_argument("--seeds", default="0,1,2", help="seeds at fractions below 10%%")
    parser.add_argument("--seeds-below", type=float, default=0.1, help="fractions with --seeds")
    parser.add_argument("--small-epochs", type=int, default=30)
    parser.add_argument("--full-epochs", type=int, default=4)
    parser.add_argument("--patience", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3, help="fine-tuning rate, both arms")
    parser.add_argument("--freeze-epochs", type=int, default=0, help="pretrained embedding frozen")
    parser.add_argument("--init-layers", default="embedding,bilstm", help="copied from the LM")
    parser.add_argument("--arms", default="scratch,pretrained")
    parser.add_argument("--out", default="sst2_pretrain_results.json")
    args = parser.parse_args()
    split = sst2.load(False)
    vocabulary = sst2.build_vocabulary(split["train"][0])
    x = {k: sst2.encode_texts(t, vocabulary, 64) for k, (t, _) in split.items()}
    y = {k: lab for k, (_, lab) in split.items()}
    vocab_size = len(vocabulary)
    print(f"vocabulary {vocab_size}; load average {os.getloadavg()[0]:.1f} (shared machine)")
    results = {"args": vars(args)}
    if not os.path.exists(args.lm_weights) and ("pretrained" in args.arms or args.lm_only):
        keep, spans = maximal_phrases(x["train"])
        novel = np.array([i for i, r in enumerate(x["dev"]) if tuple(r[r > 0]) not in spans])
        print(
            f"LM text: {len(keep)} maximal phrases, {int((x['train'][keep] > 0).sum())} tokens; "
            f"held out: {len(novel)} dev phrases, {int((x['dev'][novel] > 0).sum())} tokens"
        )
        results["lm"] = pretrain(
            x["train"][keep], x["dev"][novel], vocab_size, args.lm_epochs, args.lm_weights,
            args.lm_lr, 60 * args.lm_minutes,
        )  # fmt: skip
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    if args.lm_only:
        return
    encoder = None
    if "pretrained" in args.arms:
        layers = args.init_layers.split(",")
        encoder = {n: w for n, w in load_encoder(args.lm_weights).items() if n in layers}
    rows = []
    for fraction in [float(f) for f in args.fractions.split(",")]:
        seeds = [int(s) for s in args.seeds.split(",")] if fraction < args.seeds_below else [0]
        for seed in seeds:
            order = np.random.default_rng(seed).permutation(len(y["train"]))
            keep = order[: int(round(fraction * len(order)))]
            epochs = args.small_epochs if fraction < 1 else args.full_epochs
            row = {"fraction": fraction, "examples": len(keep), "seed": seed}
            for arm in args.arms.split(","):
                row[arm] = fine_tune(
                    x["train"][keep], y["train"][keep], x["dev"], y["dev"], x["test"], y["test"],
                    vocab_size, epochs, seed, encoder if arm == "pretrained" else None,
                    args.lr, args.patience, args.freeze_epochs, args.jit,
                )  # fmt: skip
                print(json.dumps({**row, arm: row[arm]}), flush=True)
            rows.append(row)
            results["rows"] = rows
            with open(args.out, "w") as f:
                json.dump(results, f, indent=1)
    print_table(rows)


def print_table(rows):
    print(
        "\n| training data | examples | from scratch | LM-pretrained | gain |\n|---|---|---|---|---|"
    )
    for fraction in sorted({r["fraction"] for r in rows}):
        group = [r for r in rows if r["fraction"] == fraction and "pretrained" in r]
        if not group or "scratch" not in group[0]:
            continue
        s = np.array([r["scratch"]["test"] for r in group]) * 100
        p = np.array([r["pretrained"]["test"] for r in group]) * 100
        print(
            f"| {100 * fraction:g}% | {group[0]['examples']} | {_mean_std(s, '%')} | "
            f"{_mean_std(p, '%')} | {_mean_std(p - s, '', '+')} |"
        )


def _mean_std(a, unit, sign=""):
    """Mean, and the sample standard deviation over seeds when there are several."""
    spread = f" ± {a.std(ddof=1):.1f}" if len(a) > 1 else ""
    return f"{a.mean():{sign}.1f}{unit}{spread}"


if __name__ == "__main__":
    main()
