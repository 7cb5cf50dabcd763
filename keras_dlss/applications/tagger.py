"""BiLSTM-CRF sequence tagger (DLSS 2018, "structured prediction" / "CRF layers").

Word embeddings and a character CNN feed a bidirectional LSTM whose per-token
scores go to a linear-chain CRF (Lample et al., 2016; Ma & Hovy, 2016). The
CRF learns tag-to-tag transitions and decodes the best *sequence*; for BIO
tag sets, decoding is constrained so that an `I-X` never follows `O` or
another type. `head="softmax"` builds the same network with an independent
per-token softmax instead, for the CRF-vs-softmax comparison.

The CLI task (`keras-dlss train tagger`) trains on real English by default:
UPOS tags of the UD English EWT slice embedded in the package (CC BY-SA 4.0,
see `keras_dlss.datasets.load_ud_english_ewt`), scored by token accuracy.
`--data` takes the user's CoNLL-U or CoNLL file; a BIO tag set gets
constrained decoding and span F1 (the repository's example is the template
NER corpus `tests/fixtures/toy_ner.conll`).

References:
    - Lample et al., "Neural Architectures for Named Entity Recognition",
      NAACL 2016 (https://arxiv.org/abs/1603.01360).
    - Ma & Hovy, "End-to-end Sequence Labeling via Bi-directional
      LSTM-CNNs-CRF", ACL 2016 (https://arxiv.org/abs/1603.01354).
"""

import os
import re

import keras
import numpy as np

from keras_dlss import _validation as v
from keras_dlss.applications._char_features import char_cnn_features
from keras_dlss.applications.base import Task, TaskData
from keras_dlss.datasets.conll import Vocabulary, encode_characters, read_conll, read_conllu
from keras_dlss.datasets.ud_english_ewt import LICENSE as EWT_LICENSE
from keras_dlss.datasets.ud_english_ewt import load_ud_english_ewt
from keras_dlss.layers.crf import CRF, CRFModel
from keras_dlss.metrics.sequence_labeling import TokenAccuracy, span_f1, token_accuracy
from keras_dlss.ops.crf_constraints import allowed_transitions

_TOKEN = re.compile(r"\w+(?:[-'.]\w+)*|[^\w\s]")
# English clitics are separate words in UD and Penn Treebank tokenization: ca n't, Smith 's.
_CLITIC = re.compile(r"(?i)(.+?)(n't|'s|'re|'ve|'ll|'d|'m)$")


def _bio_labels(labels):
    return bool(labels) and all(t == "O" or re.fullmatch(r"[BI]-.+", t) for t in labels)


def BiLSTMCRFTagger(
    vocabulary_size,
    num_tags,
    *,
    char_vocabulary_size=None,
    max_word_length=16,
    embedding_dim=64,
    char_embedding_dim=24,
    char_filters=48,
    char_kernel_size=3,
    lstm_units=64,
    dropout=0.25,
    labels=None,
    scheme="BIO",
    head="crf",
    name="bilstm_crf_tagger",
):
    """Builds a BiLSTM-CRF tagger: word embeddings (+ char CNN) -> BiLSTM -> CRF.

    Args:
        vocabulary_size: int. Word ids are in `[0, vocabulary_size)`, 0 = padding.
        num_tags: int. Number of tags.
        char_vocabulary_size: optional int. When set, the model takes a dict
            `{"words": [B, T], "chars": [B, T, max_word_length]}` and adds a
            character CNN (max-pooled over each word); else just `[B, T]` ids.
        max_word_length: int. Characters per word of the `chars` input. Defaults to 16.
        embedding_dim: int. Word embedding size. Defaults to 64.
        char_embedding_dim: int. Character embedding size. Defaults to 24.
        char_filters: int. Character CNN filters. Defaults to 48.
        char_kernel_size: int. Character CNN width. Defaults to 3.
        lstm_units: int. Units per LSTM direction. Defaults to 64.
        dropout: float in [0, 1). Dropout on the features and BiLSTM outputs.
        labels: optional list of `num_tags` tag strings. With a BIO tag set
            (and `scheme="BIO"`), CRF decoding is constrained to valid BIO.
        scheme: `"BIO"`, `"IOB1"`, `"BIOES"` or None (no constraints). Defaults to `"BIO"`.
        head: `"crf"` (a `CRFModel`: `compile(optimizer=...)` then `fit(x, y)`;
            `predict` returns tag ids) or `"softmax"` (a plain `keras.Model`
            returning `[B, T, num_tags]` probabilities; compile it with a
            sparse categorical cross-entropy). Defaults to `"crf"`.
        name: str. Model name.

    Returns:
        An uncompiled `CRFModel` (or `keras.Model` for `head="softmax"`).

    Example:

    ```python
    ner_tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]  # BIO: decoding is constrained
    word_ids = np.random.randint(1, 5000, size=(32, 10))  # id 0 is padding
    word_ids[:, 8:] = 0
    tag_ids = np.where(word_ids % 3 == 0, 1, 0) * (word_ids > 0)

    model = keras_dlss.applications.BiLSTMCRFTagger(5000, 5, labels=ner_tags)
    model.compile(optimizer="adam")
    model.fit(word_ids, tag_ids, epochs=2, verbose=0)
    model.predict(word_ids, verbose=0)  # [32, 10] int32 Viterbi tags
    ```
    """
    vocabulary_size = v.check_positive_int("vocabulary_size", vocabulary_size, 2)
    num_tags = v.check_positive_int("num_tags", num_tags)
    v.check_one_of("head", head, ("crf", "softmax"))
    v.check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False)
    for arg in (
        "embedding_dim",
        "char_embedding_dim",
        "char_filters",
        "char_kernel_size",
        "lstm_units",
        "max_word_length",
    ):
        v.check_positive_int(arg, locals()[arg])
    if labels is not None and len(labels) != num_tags:
        raise ValueError(
            f"Argument `labels` must hold num_tags={num_tags} tags. Received: {len(labels)} labels"
        )
    words = keras.Input((None,), dtype="int32", name="words")
    features = keras.layers.Embedding(
        vocabulary_size, embedding_dim, mask_zero=True, name="word_embedding"
    )(words)
    inputs = words
    if char_vocabulary_size is not None:
        v.check_positive_int("char_vocabulary_size", char_vocabulary_size, 2)
        chars = keras.Input((None, max_word_length), dtype="int32", name="chars")
        c = char_cnn_features(
            chars,
            char_vocabulary_size,
            char_embedding_dim,
            char_filters,
            char_kernel_size,
            max_word_length,
        )
        features = keras.layers.Concatenate(name="word_features")([features, c])
        inputs = {"words": words, "chars": chars}
    x = keras.layers.Dropout(dropout, name="feature_dropout")(features)
    x = keras.layers.Bidirectional(
        keras.layers.LSTM(lstm_units, return_sequences=True), name="bilstm"
    )(x)
    x = keras.layers.Dropout(dropout, name="bilstm_dropout")(x)
    if head == "softmax":
        probs = keras.layers.Dense(num_tags, activation="softmax", name="tag_probs")(x)
        return keras.Model(inputs, probs, name=name.replace("crf", "softmax"))
    constraints = None
    if labels is not None and scheme is not None and (scheme != "BIO" or _bio_labels(labels)):
        constraints = allowed_transitions(labels, scheme, with_start_end=True)
    emissions = keras.layers.Dense(num_tags, name="emissions")(x)
    tags = CRF(num_tags, constraints=constraints, name="crf")(emissions)
    return CRFModel(inputs, tags, name=name)


# ----------------------------------------------------------------------------- data


def tokenize(text):
    """Splits a raw sentence into words, punctuation marks and clitics (`ca n't`, `Smith 's`)."""
    words = []
    for token in _TOKEN.findall(text):
        clitic = _CLITIC.fullmatch(token)
        words.extend(clitic.groups() if clitic else [token])
    return words


def _read(path):
    if path.endswith((".conllu", ".conllu.gz", ".conllu.xz", ".conllu.bz2")):
        return read_conllu(path, column="upos")
    return read_conll(path)


def _split(n, seed, fractions=(0.8, 0.1)):
    order = np.random.default_rng(seed).permutation(n)
    a, b = int(n * fractions[0]), int(n * (fractions[0] + fractions[1]))
    return order[:a], order[a:b], order[b:]


def encode_tagged(words, tags, info):
    """Model inputs and tag ids for word/tag sequences, using the vocabularies in `info`."""
    word_vocab = Vocabulary(**info["words"])
    char_vocab = Vocabulary(**info["chars"])
    length = info["max_length"]
    x = {
        "words": word_vocab.encode(words, max_length=length),
        "chars": encode_characters(words, char_vocab, length, info["max_word_length"]),
    }
    if tags is None:
        return x, None
    tag_index = {t: i for i, t in enumerate(info["tags"])}
    y = np.zeros((len(tags), length), "int32")
    for row, sequence in enumerate(tags):
        ids = [tag_index.get(t, 0) for t in sequence[:length]]  # unseen tags: counted as errors
        y[row, : len(ids)] = ids
    return x, y


def _splits(path, seed, max_sentences):
    """`(words, tags)` of the train, validation and test sentences, and the source's name."""
    if path is None:
        # The embedded slice: its dev file gives train and validation, its test file the test.
        words, tags = load_ud_english_ewt("dev", max_sentences=max_sentences)
        train, val, _ = _split(len(words), seed, (0.9, 0.1))
        test = load_ud_english_ewt("test", max_sentences=max_sentences)
        source = "UD English EWT (embedded slice, UPOS)"
    else:
        words, tags = _read(path)
        words, tags = words[:max_sentences], tags[:max_sentences]
        if len(words) < 3:
            raise ValueError(
                f"Argument `path` must hold at least 3 sentences. Received: {len(words)} in {path}"
            )
        train, val, test = _split(len(words), seed)
        test = [words[i] for i in test], [tags[i] for i in test]
        source = os.path.basename(path)
    pick = lambda idx: ([words[i] for i in idx], [tags[i] for i in idx])  # noqa: E731
    return pick(train), pick(val), test, source


def _pieces(words, tags, length):
    """Splits sentences longer than `length` tokens into pieces, never inside a BIO span.

    Pieces rather than truncation keep every training token; a cut before an
    `I-X` tag would start a piece with a tag that constrained decoding forbids,
    so the cut moves back to the span's `B-X` (a span longer than `length`
    keeps its first `length` tokens and the sentence ends there).
    """
    out_words, out_tags = [], []
    for w, t in zip(words, tags):
        start = 0
        while start < len(w):
            end = cut = min(start + length, len(w))
            while start + 1 < cut < len(w) and t[cut].startswith("I-"):
                cut -= 1
            inside_span = cut < len(w) and t[cut].startswith("I-")
            out_words.append(w[start : end if inside_span else cut])
            out_tags.append(t[start : end if inside_span else cut])
            if inside_span:
                break
            start = cut
    return out_words, out_tags


def load_tagged(path=None, seed=0, max_length=None, max_word_length=16, max_sentences=None):
    """Reads a tagged corpus into a `TaskData` of encoded train/validation/test splits.

    `path=None` uses the embedded UD English EWT slice for UPOS tagging (its
    2,001 dev sentences split 90/10 into train and validation, its 1,068
    test sentences as the test split; see `keras_dlss.datasets.load_ud_english_ewt`).
    A user file is split 80/10/10: `.conllu` files (optionally `.gz`/`.xz`)
    are read with their UPOS column, anything else as whitespace CoNLL
    columns (word first, tag last); a BIO tag set turns on constrained decoding.

    Args:
        path: optional str. A CoNLL-U or CoNLL file; None for the embedded slice.
        seed: int. Seed of the random split. Defaults to 0.
        max_length: optional int. Training sentences longer than this are
            split into pieces of at most `max_length` tokens: every training
            batch is padded to it, and the BiLSTM's time grows with it.
            Validation and test sentences stay whole. Defaults to the longest
            training sentence, at most 32 (EWT sentences average 12.5 tokens;
            95% have at most 33).
        max_word_length: int. Characters per word seen by the char CNN. Defaults to 16.
        max_sentences: optional int. Read only the first `max_sentences`
            sentences of each file (quick tests). Defaults to all.
    """
    if max_sentences is not None:
        v.check_positive_int("max_sentences", max_sentences)
    train, val, test, source = _splits(path, seed, max_sentences)
    labels = sorted({t for s in train[1] for t in s})
    if max_length is None:
        max_length = int(min(32, max(len(s) for s in train[0])))
    v.check_positive_int("max_length", max_length)
    info = {
        # Words seen once map to <unk>, so the model learns an embedding for
        # unknown words; the character CNN still sees their spelling.
        "words": Vocabulary.build(train[0], min_count=2, lowercase=True).get_config(),
        "chars": Vocabulary.build([list(w) for s in train[0] for w in s]).get_config(),
        "tags": labels,
        "max_length": max_length,
        "max_word_length": max_word_length,
        "scheme": "BIO" if _bio_labels(labels) else None,
        "source": source,
    }
    longest = lambda words: {**info, "max_length": max(len(s) for s in words)}  # noqa: E731
    return TaskData(
        train=encode_tagged(*_pieces(*train, max_length), info),
        validation=encode_tagged(*val, longest(val[0])) if val[0] else None,
        test=encode_tagged(*test, longest(test[0])),
        info=info,
    )


class TaggerTask(Task):
    name = "tagger"
    summary = (
        "BiLSTMCRFTagger (structured prediction: word+char features, BiLSTM, linear-chain CRF)"
    )
    default_data = (
        "UD English EWT slice shipped in the package: UPOS tagging (17 tags), 2,001 dev "
        "sentences split 90/10 for train/validation, 1,068 test sentences; "
        "--data FILE for your own CoNLL-U (UPOS) or CoNLL BIO file (BIO: span F1, constrained decoding)"
    )
    data_license = EWT_LICENSE
    # Measured on the 2-core CPU machine with XLA (docs/crf.md): 8 epochs of 64
    # sentences per batch take about 2 minutes and reach ~90% test accuracy; a step
    # costs about the same at 32 or 64 sentences (the BiLSTM's time loop dominates).
    default_epochs = 8
    default_batch_size = 64
    monitor = "val_loss"
    patience = 4

    def load_data(self, path=None, seed=0):
        return load_tagged(path, seed)

    def build_model(self, data, *, jit_compile=True, seed=0, learning_rate=5e-3, **hparams):
        keras.utils.set_random_seed(seed)
        info = data.info
        model = BiLSTMCRFTagger(
            len(info["words"]["tokens"]),
            len(info["tags"]),
            char_vocabulary_size=len(info["chars"]["tokens"]),
            max_word_length=info["max_word_length"],
            labels=info["tags"],
            scheme=info["scheme"],
            **hparams,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            weighted_metrics=[TokenAccuracy()],  # weighed by the padding mask (CRFModel)
            jit_compile=jit_compile,
        )
        return model

    def evaluate(self, model, data):
        x, y = data.test
        results = {
            f"test_{k}": float(val)
            for k, val in model.evaluate(x, y, verbose=0, return_dict=True).items()
        }
        pred = model.predict(x, verbose=0)
        lengths = (x["words"] > 0).sum(-1)
        labels = data.info["tags"]
        gold = [[labels[t] for t in row[:n]] for row, n in zip(y, lengths)]
        guess = [[labels[t] for t in row[:n]] for row, n in zip(pred, lengths)]
        results["test_token_accuracy"] = token_accuracy(gold, guess)
        if data.info["scheme"] == "BIO":
            spans = span_f1(gold, guess)
            results.update({f"test_span_{k}": spans[k] for k in ("precision", "recall", "f1")})
        return results

    def search_space(self, hp):
        return {
            "lstm_units": hp.Choice("lstm_units", [32, 64, 128]),
            "embedding_dim": hp.Choice("embedding_dim", [32, 64, 100]),
            "dropout": hp.Float("dropout", 0.0, 0.5, step=0.1),
            "learning_rate": hp.Float("learning_rate", 1e-3, 1e-2, sampling="log"),
        }

    def predict(self, model, inputs, metadata):
        sentences = [tokenize(text) for text in inputs]
        if not all(sentences):
            raise ValueError(
                f"Argument `inputs` must hold non-empty sentences. Received: inputs={inputs!r}"
            )
        # Encoded at the longest input's length: the training cut must not drop words.
        longest = max(metadata["max_length"], max(len(s) for s in sentences))
        x, _ = encode_tagged(sentences, None, {**metadata, "max_length": longest})
        tags = model.predict(x, verbose=0)
        labels = metadata["tags"]
        return [
            " ".join(f"{w}/{labels[int(t)]}" for w, t in zip(words, row))
            for words, row in zip(sentences, tags)
        ]
