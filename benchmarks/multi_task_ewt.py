"""Multi-task vs single-task: UPOS tagging and dependency parsing on UD English EWT.

Protocol (issue #17, item 6): train on `en_ewt-ud-dev.conllu` (the 1,800 sentences
`parsing_ud_ewt.py` trains on; its 201 held-out sentences are not used), evaluate on the
whole `en_ewt-ud-test.conllu`, gold tokenization, **words only** (no UPOS input). Every
arm is a `keras_dlss.training.MultiTaskModel` with the same shared encoder (100-d word
embeddings, 2 x 128 BiLSTM, dropout 0.33) and the same number of epochs:

- `joint`: a tagging head (Dense over the BiLSTM states) and a parse head (the biaffine
  parser's arc/label scorers, `biaffine_scorers`), losses summed (weights 1, 1) on joint
  batches `(x, {"upos": tags, "parse": trees})`;
- `sampled`: the same two heads, one task per step drawn uniformly from
  `MultiTaskDataset` (each task sees all its batches once per epoch: twice the steps);
- `upos alone`, `parse alone`: one head each;
- `parse alone + chars` (not in the default arms): the parser with a char-CNN word feature
  (32-d character embeddings, 64 filters of width 3, max over the word's first 16
  characters) concatenated to the word embedding: rare words get a representation.

Parse heads are decoded with Chu-Liu/Edmonds (`BiaffineParserModel.parse`); scores are
UPOS accuracy and UAS/LAS from `metrics.attachment_scores` (CoNLL 2018: all words).

    .venv/bin/python benchmarks/multi_task_ewt.py [--epochs 8] [--arms joint,sampled,...]
"""

import argparse
import json
import os
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "ud-english-ewt")
ARMS = {
    "joint": ("upos", "parse"),
    "sampled": ("upos", "parse"),
    "upos alone": ("upos",),
    "parse alone": ("parse",),
    "parse alone + chars": ("parse",),
}


def _trees(split):
    from keras_dlss.datasets import read_conllu_trees

    return read_conllu_trees(os.path.join(DATA, f"en_ewt-ud-{split}.conllu"))


def char_ids(trees, length, alphabet, max_chars=16):
    """`[B, length + 1, max_chars]` character ids (0 = padding, 1 = unknown, 2 = ROOT)."""
    out = np.zeros((len(trees), length + 1, max_chars), "int32")
    for row, tree in enumerate(trees):
        out[row, 0, 0] = 2
        for i, word in enumerate(tree.words[:length], start=1):
            out[row, i, : len(word[:max_chars])] = [alphabet.get(c, 1) for c in word[:max_chars]]
    return out


def build_model(info, tasks, lstm_units=128, dropout=0.33, chars=None, weights=None):
    import keras

    from keras_dlss.applications.biaffine_parser import biaffine_scorers, parse_loss, tag_loss
    from keras_dlss.training import MultiTaskModel

    words = keras.Input((None,), dtype="int32", name="words")
    x = keras.layers.Embedding(len(info["words"]["tokens"]), 100, mask_zero=True)(words)
    inputs = {"words": words}
    if chars:  # a char-CNN word feature (Ballesteros et al. 2015; Kim et al. 2016)
        inputs["chars"] = keras.Input((None, None), dtype="int32", name="chars")
        c = keras.layers.Embedding(chars, 32)(inputs["chars"])
        c = keras.layers.Conv2D(64, (1, 3), padding="same", activation="relu")(c)
        c = keras.layers.Lambda(lambda t: keras.ops.max(t, axis=2))(c)
        x = keras.layers.Concatenate()([x, c])
    x = keras.layers.Dropout(dropout)(x)
    for _ in range(2):
        x = keras.layers.Bidirectional(keras.layers.LSTM(lstm_units, return_sequences=True))(x)
        x = keras.layers.Dropout(dropout)(x)
    # The head needs the words too (padding is never a head), so they pass through.
    features = {"states": x, "words": keras.layers.Identity(name="words_out")(words)}
    encoder = keras.Model(inputs, features, name="encoder")

    def head_inputs():
        return {
            "states": keras.Input((None, 2 * lstm_units), name="states"),
            "words": keras.Input((None,), dtype="int32", name="words"),
        }

    heads, losses = {}, {}
    if "upos" in tasks:
        inp = head_inputs()
        tags = keras.layers.Dense(len(info["upos"]), name="tags")(inp["states"])
        heads["upos"], losses["upos"] = keras.Model(inp, tags, name="upos_head"), tag_loss
    if "parse" in tasks:
        inp = head_inputs()
        scores = biaffine_scorers(inp["states"], inp["words"], len(info["deprels"]))
        heads["parse"], losses["parse"] = keras.Model(inp, scores, name="parse_head"), parse_loss
    weights = {t: (weights or {}).get(t, 1.0) for t in heads}
    model = MultiTaskModel(encoder, heads, losses, loss_weights=weights)
    model.compile(optimizer=keras.optimizers.Adam(2e-3, beta_2=0.9, clipnorm=5.0))
    return model


def task_targets(y, tasks):
    out = {}
    if "upos" in tasks:
        out["upos"] = y["tags"]
    if "parse" in tasks:
        out["parse"] = {"heads": y["heads"], "labels": y["labels"]}
    return out


def batches(x, y, tasks, batch_size, sampled=False, seed=0):
    """Length-bucketed joint batches `(x, {task: y})`, or with `sampled` one
    `MultiTaskDataset` drawing a task per step from per-task sources `(x, y_task)`."""
    import keras

    from keras_dlss.applications.parser_task import LengthBuckets
    from keras_dlss.training import MultiTaskDataset

    class TaskTargets(keras.utils.PyDataset):
        def __init__(self, buckets, tasks, single=False):
            super().__init__()
            self.buckets, self.tasks, self.single = buckets, tasks, single

        def __len__(self):
            return len(self.buckets)

        def __getitem__(self, i):
            bx, by = self.buckets[i]
            targets = task_targets(by, self.tasks)
            return (bx, targets[self.tasks[0]]) if self.single else (bx, targets)

        def on_epoch_end(self):
            self.buckets.on_epoch_end()

    if not sampled:
        return TaskTargets(LengthBuckets(x, y, batch_size, seed=seed), tasks)
    sources = {
        t: TaskTargets(LengthBuckets(x, y, batch_size, seed=seed + k), (t,), single=True)
        for k, t in enumerate(tasks)
    }
    return MultiTaskDataset(sources, sampling="uniform", seed=seed)


def score(model, info, tasks, test, tx, ty):
    from keras_dlss.applications.biaffine_parser import BiaffineParserModel
    from keras_dlss.metrics import attachment_scores

    scores = {}
    if "upos" in tasks:
        tags = model.task_model("upos").predict(tx, batch_size=64, verbose=0).argmax(-1)
        mask = ty["tags"] >= 0
        scores["upos_accuracy"] = float((tags[mask] == ty["tags"][mask]).mean())
    if "parse" in tasks:
        task_model = model.task_model("parse")
        parser = BiaffineParserModel(task_model.input, task_model.output)
        heads, labels, _ = parser.parse(tx)
        n = [len(t) for t in test]
        scores.update(
            attachment_scores(
                [t.heads for t in test],
                [t.deprels for t in test],
                [heads[i, 1 : n[i] + 1] for i in range(len(test))],
                [[info["deprels"][r] for r in labels[i, 1 : n[i] + 1]] for i in range(len(test))],
                upos=[t.upos for t in test],
            )
        )
    return scores


def run_arm(arm, train, test, epochs, batch_size, weights=None):
    import keras

    from keras_dlss.applications.parser_task import build_vocabularies, encode_trees

    keras.utils.set_random_seed(0)
    tasks = ARMS[arm]
    info = build_vocabularies(train, max_length=max(len(t) for t in train))
    x, y = encode_trees(train, info)
    tx, ty = encode_trees(test, info)
    alphabet = None
    if "chars" in arm:
        letters = sorted({c for t in train for w in t.words for c in w})
        alphabet = {c: i + 3 for i, c in enumerate(letters)}
        x["chars"] = char_ids(train, x["words"].shape[1] - 1, alphabet)
        tx["chars"] = char_ids(test, tx["words"].shape[1] - 1, alphabet)
    model = build_model(info, tasks, chars=alphabet and len(alphabet) + 3, weights=weights)
    data = batches(x, y, tasks, batch_size, sampled=arm == "sampled")
    start = time.perf_counter()
    history = model.fit(data, epochs=epochs, verbose=2)
    seconds = time.perf_counter() - start
    scores = score(model, info, tasks, test, tx, ty)
    last = {k: round(float(val[-1]), 4) for k, val in history.history.items()}
    scores.update(epochs=len(history.history["loss"]), train_s=seconds, final_logs=last)
    return scores


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--arms", default="joint,upos alone,parse alone,sampled")
    parser.add_argument("--loss-weights", default="", help='e.g. "upos=2,parse=1"')
    args = parser.parse_args()
    dev, test = _trees("dev"), _trees("test")
    order = np.random.default_rng(0).permutation(len(dev))
    train = [dev[i] for i in order[: int(0.9 * len(dev))]]
    print(f"train {len(train)} / test {len(test)} sentences (gold tokens, words only)")
    rows = []
    for arm in args.arms.split(","):
        weights = dict(kv.split("=") for kv in args.loss_weights.split(",") if kv)
        weights = {t: float(w) for t, w in weights.items()}
        s = run_arm(arm, train, test, args.epochs, args.batch_size, weights)
        arm = f"{arm} {weights}" if weights else arm
        rows.append((arm, s))
        print(arm, json.dumps(s), flush=True)
    print("\n| arm | UPOS acc | UAS | LAS | UAS no punct | LAS no punct | epochs | train s |")
    print("|---|---|---|---|---|---|---|---|")
    for arm, s in rows:
        cell = lambda k, s=s: f"{s[k]:.4f}" if k in s else "-"  # noqa: E731
        print(
            f"| {arm} | {cell('upos_accuracy')} | {cell('uas')} | {cell('las')} | "
            f"{cell('uas_no_punct')} | {cell('las_no_punct')} | {s['epochs']} | "
            f"{s['train_s']:.0f} |"
        )


if __name__ == "__main__":
    main()
