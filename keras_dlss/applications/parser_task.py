"""`keras-dlss train parser` / `predict parser`: dependency parsing of UD English EWT.

The default data is the UD English EWT slice embedded in the package (CC BY-SA
4.0): its 2,001 dev sentences split 90/10 into train and validation, its 1,068
test sentences as the test split; `--data FILE.conllu` parses the user's
treebank (split 80/10/10). The model (`BiaffineParser`) reads words only and
predicts UPOS itself with a tagging head on the shared BiLSTM, so
`predict parser MODEL.keras "a sentence"` needs nothing but the text and
prints CoNLL-U (ID, FORM, UPOS, HEAD, DEPREL filled; the rest `_`).

Training sentences longer than `max_length` (64 words, 0.3% of EWT) are left
out rather than cut: a cut would leave heads pointing outside the piece.
Validation and test sentences are kept whole.
"""

import os

import keras
import numpy as np

from keras_dlss.applications.base import Task, TaskData
from keras_dlss.applications.biaffine_parser import BiaffineParser
from keras_dlss.applications.stack_lstm_parser import StackLSTMParserModel
from keras_dlss.applications.tagger import tokenize
from keras_dlss.applications.transition_systems import SYSTEMS
from keras_dlss.datasets.conll import Vocabulary
from keras_dlss.datasets.dependency_trees import read_conllu_trees
from keras_dlss.datasets.ud_english_ewt import LICENSE as EWT_LICENSE
from keras_dlss.datasets.ud_english_ewt import ud_english_ewt_path
from keras_dlss.metrics.attachment import attachment_scores

ROOT = "<root>"
KINDS = ("biaffine", "stack-lstm")


def _split(n, seed, fractions):
    order = np.random.default_rng(seed).permutation(n)
    a, b = int(n * fractions[0]), int(n * (fractions[0] + fractions[1]))
    return order[:a], order[a:b], order[b:]


def build_vocabularies(trees, max_length=64):
    """The `info` dict (word vocabulary, UPOS tags, relations) of training `trees`."""
    words = Vocabulary.build([[ROOT] + t.words for t in trees], min_count=2, lowercase=True)
    return {
        "words": words.get_config(),
        "upos": sorted({u for t in trees for u in t.upos}),
        "deprels": sorted({r for t in trees for r in t.deprels}),
        "max_length": int(max_length),
    }


def encode_trees(trees, info, length=None, with_upos_input=False):
    """`(x, y)` arrays of `trees` at `length + 1` positions (position 0 = ROOT).

    `x` is `{"words"}` (and `"upos"` ids, 1-based, when `with_upos_input`); `y`
    is `{"heads", "labels", "tags"}` with -1 at the root and padding positions.
    Unknown relations and tags in evaluation data map to -1 (scored as errors).
    """
    vocab = Vocabulary(**info["words"])
    length = length or max(len(t) for t in trees)
    x = {"words": vocab.encode([[ROOT] + t.words for t in trees], max_length=length + 1)}
    upos_index = {u: i for i, u in enumerate(info["upos"])}
    rel_index = {r: i for i, r in enumerate(info["deprels"])}
    y = {k: np.full((len(trees), length + 1), -1, "int32") for k in ("heads", "labels", "tags")}
    if with_upos_input:
        x["upos"] = np.zeros((len(trees), length + 1), "int32")
    for row, tree in enumerate(trees):
        n = min(len(tree), length)
        y["heads"][row, 1 : n + 1] = tree.heads[:n]
        if tree.deprels is not None:
            y["labels"][row, 1 : n + 1] = [rel_index.get(r, -1) for r in tree.deprels[:n]]
        if tree.upos is not None:
            tags = [upos_index.get(u, -1) for u in tree.upos[:n]]
            y["tags"][row, 1 : n + 1] = tags
            if with_upos_input:
                x["upos"][row, 0] = len(info["upos"]) + 1  # the ROOT's own tag id
                x["upos"][row, 1 : n + 1] = np.asarray(tags) + 1
    return x, y


def to_conllu(words, heads, labels, tags, info):
    """CoNLL-U lines of one parsed sentence (position 0 of the arrays is the ROOT)."""
    lines = []
    for i, word in enumerate(words, start=1):
        upos = info["upos"][int(tags[i])] if tags is not None else "_"
        rel = info["deprels"][int(labels[i])]
        if int(heads[i]) == 0:
            rel = "root"  # the single root word always has the relation root in UD
        lines.append(
            "\t".join([str(i), word, "_", upos, "_", "_", str(int(heads[i])), rel, "_", "_"])
        )
    return "\n".join(lines) + "\n"


def load_parsing_data(path=None, seed=0, max_length=64):
    """A `TaskData` of encoded train / validation / test trees (see the module docstring)."""
    if path is None:
        trees = read_conllu_trees(ud_english_ewt_path("dev"))
        train, val, _ = _split(len(trees), seed, (0.9, 0.1))
        test = read_conllu_trees(ud_english_ewt_path("test"))
        source = "UD English EWT (embedded slice, gold tokenization)"
    else:
        trees = read_conllu_trees(path)
        if len(trees) < 3:
            raise ValueError(
                f"Argument `path` must hold at least 3 trees. Received: {len(trees)} in {path}"
            )
        train, val, test = _split(len(trees), seed, (0.8, 0.1))
        test = [trees[i] for i in test]
        source = os.path.basename(path)
    train = [trees[i] for i in train if len(trees[i]) <= max_length]
    val = [trees[i] for i in val]
    info = {**build_vocabularies(train, max_length), "source": source}
    return TaskData(
        train=encode_trees(train, info, max(len(t) for t in train)),
        validation=encode_trees(val, info) if val else None,
        test=encode_trees(test, info),
        info=info,
    )


class LengthBuckets(keras.utils.PyDataset):
    """Shuffled batches of similar-length sentences, cut to their bucket's width.

    EWT sentences average 12.5 words but the longest training sentence sets the
    array width; padding every batch to it would make the BiLSTM run about five
    times longer than needed. A few fixed widths keep the number of compiled
    (XLA) shapes small.
    """

    def __init__(self, x, y, batch_size, widths=(16, 32, 64), seed=0, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.rng = np.random.default_rng(seed)
        lengths = (x["words"] > 0).sum(1)
        full = x["words"].shape[1]
        widths = sorted({min(w + 1, full) for w in widths} | {full})
        self.width = np.array([next(w for w in widths if w >= n) for n in lengths])
        self.on_epoch_end()

    def on_epoch_end(self):
        self.batches = []
        for width in np.unique(self.width):
            idx = self.rng.permutation(np.nonzero(self.width == width)[0])
            for start in range(0, len(idx), self.batch_size):
                self.batches.append((np.sort(idx[start : start + self.batch_size]), width))
        self.rng.shuffle(self.batches)
        # Keras's TensorFlow adapter infers the input signature from the first
        # batches: two different widths there make the time axis `None`.
        other = next((i for i, b in enumerate(self.batches) if b[1] != self.batches[0][1]), None)
        if other is not None:
            self.batches[1], self.batches[other] = self.batches[other], self.batches[1]

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        idx, width = self.batches[i]
        cut = lambda d: {k: a[idx, :width] for k, a in d.items()}  # noqa: E731
        return cut(self.x), cut(self.y)


class ParserTask(Task):
    name = "parser"
    summary = (
        "BiaffineParser (graph-based dependency parsing: BiLSTM, biaffine scorers, MST decoding), "
        "or --kind stack-lstm: StackLSTMParser (transition-based, Dyer et al. 2015)"
    )
    default_data = (
        "UD English EWT slice shipped in the package: dependency trees (HEAD, DEPREL) of 2,001 "
        "dev sentences split 90/10 for train/validation, 1,068 test sentences; "
        "--data FILE.conllu for your own treebank"
    )
    data_license = EWT_LICENSE
    default_epochs = 15
    default_batch_size = 32
    monitor = "val_loss"
    patience = 4
    options = {
        "kind": {"choices": KINDS, "help": "parser architecture (default biaffine)"},
        "system": {
            "choices": SYSTEMS,
            "help": "transition system of --kind stack-lstm (default arc-standard)",
        },
        "oracle": {
            "choices": ("static", "dynamic"),
            "help": "--kind stack-lstm training oracle; dynamic: exploration, arc-hybrid only",
        },
        "explore-p": {"type": float, "help": "--oracle dynamic: exploration probability (0.9)"},
        "projective": {"action": "store_true", "help": "Eisner decoding: projective trees only"},
        "lstm-units": {"type": int, "help": "units per BiLSTM direction (default 128)"},
        "lstm-layers": {"type": int, "help": "stacked BiLSTM layers (default 2)"},
        "learning-rate": {"type": float, "help": "Adam learning rate (default 2e-3)"},
    }

    def load_data(self, path=None, seed=0):
        return load_parsing_data(path, seed)

    def build_model(
        self,
        data,
        *,
        jit_compile=True,
        seed=0,
        kind="biaffine",
        projective=False,
        learning_rate=2e-3,
        **hparams,
    ):
        keras.utils.set_random_seed(seed)
        info = data.info
        info.update(kind=kind, projective=bool(projective))  # saved as metadata.json for predict
        hparams = {k.replace("-", "_"): val for k, val in hparams.items() if val is not None}
        if kind == "stack-lstm":
            from keras_dlss.applications.stack_lstm_task import build_stack_lstm

            return build_stack_lstm(info, learning_rate, jit_compile, **hparams)
        for stack_lstm_only in ("system", "oracle", "explore_p"):
            hparams.pop(stack_lstm_only, None)
        model = BiaffineParser(
            len(info["words"]["tokens"]),
            len(info["deprels"]),
            num_tags=len(info["upos"]),
            **hparams,
        )
        # Dozat & Manning's Adam betas (0.9, 0.9): the arc scores' gradient is noisy.
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate, beta_2=0.9, clipnorm=5.0),
            jit_compile=jit_compile,
        )
        return model

    def fit(self, model, data, *, epochs, batch_size, callbacks, verbose=1):
        if isinstance(model, StackLSTMParserModel):
            from keras_dlss.applications.stack_lstm_task import fit_stack_lstm

            return fit_stack_lstm(model, data, epochs, batch_size, callbacks, verbose)
        return model.fit(
            LengthBuckets(*data.train, batch_size),
            validation_data=data.validation,
            epochs=epochs,
            callbacks=callbacks,
            verbose=verbose,
        )

    def evaluate(self, model, data):
        x, y = data.test
        if isinstance(model, StackLSTMParserModel):  # its loss needs oracle targets, not heads
            loss = {}
        else:
            loss = model.evaluate(x, y, verbose=0, return_dict=True)
        heads, labels, tags = model.parse(x, projective=data.info.get("projective", False))
        info = data.info
        gold_heads, gold_rels, pred_heads, pred_rels, upos = [], [], [], [], []
        for row in range(len(heads)):
            n = int((x["words"][row] > 0).sum()) - 1
            gold_heads.append(y["heads"][row, 1 : n + 1])
            gold_rels.append(y["labels"][row, 1 : n + 1])
            pred_heads.append(heads[row, 1 : n + 1])
            pred_rels.append(labels[row, 1 : n + 1])
            upos.append(
                ["PUNCT" if info["upos"][t] == "PUNCT" else "X" for t in y["tags"][row, 1 : n + 1]]
            )
        scores = attachment_scores(gold_heads, gold_rels, pred_heads, pred_rels, upos=upos)
        mask = y["tags"] >= 0
        results = {f"test_{k}": float(val) for k, val in loss.items()}
        results.update({f"test_{k}": float(val) for k, val in scores.items() if "words" not in k})
        if tags is not None:
            results["test_upos_accuracy"] = float((tags[mask] == y["tags"][mask]).mean())
        return results

    def predict(self, model, inputs, metadata):
        sentences = [tokenize(text) for text in inputs]
        if not all(sentences):
            raise ValueError(
                f"Argument `inputs` must hold non-empty sentences. Received: inputs={inputs!r}"
            )
        vocab = Vocabulary(**metadata["words"])
        x = {"words": vocab.encode([[ROOT] + s for s in sentences])}
        heads, labels, tags = model.parse(x, projective=metadata.get("projective", False))
        return [
            f"# text = {text}\n"
            + to_conllu(words, heads[i], labels[i], tags[i] if tags is not None else None, metadata)
            for i, (text, words) in enumerate(zip(inputs, sentences))
        ]
