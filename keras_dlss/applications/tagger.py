"""BiLSTM-CRF sequence tagger (DLSS 2018, "structured prediction" / "CRF layers").

Word embeddings and a character CNN feed a bidirectional LSTM whose per-token
scores go to a linear-chain CRF (Lample et al., 2016; Ma & Hovy, 2016). The
CRF learns tag-to-tag transitions and decodes the best *sequence*; for BIO
tag sets, decoding is constrained so that an `I-X` never follows `O` or
another type. `head="softmax"` builds the same network with an independent
per-token softmax instead, for the CRF-vs-softmax comparison.

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
from keras_dlss.applications.base import Task, TaskData
from keras_dlss.datasets.conll import Vocabulary, encode_characters, read_conll, read_conllu
from keras_dlss.layers.crf import CRF, CRFModel
from keras_dlss.metrics.sequence_labeling import TokenAccuracy, span_f1, token_accuracy
from keras_dlss.ops.crf_constraints import allowed_transitions

DEFAULT_CORPUS = os.path.join(
    os.path.dirname(__file__), os.pardir, "datasets", "data", "toy_ner.conll"
)
_TOKEN = re.compile(r"\w+(?:[-'.]\w+)*|[^\w\s]")


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
        c = keras.layers.Embedding(char_vocabulary_size, char_embedding_dim, name="char_embedding")(
            chars
        )
        # A (1, k) Conv2D is a per-word 1-D convolution over characters.
        c = keras.layers.Conv2D(
            char_filters, (1, char_kernel_size), padding="same", activation="relu", name="char_cnn"
        )(c)
        # Max over each word's characters. Not TimeDistributed(GlobalMaxPooling1D):
        # its SavedModel mixes up batch and time when both are unknown.
        c = keras.layers.MaxPooling2D((1, max_word_length), name="char_pool")(c)
        c = keras.layers.Reshape((-1, char_filters), name="char_features")(c)
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
    """Splits a raw sentence into words and punctuation marks."""
    return _TOKEN.findall(text)


def _read(path):
    if path.endswith(".conllu"):
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


def load_tagged(path=None, seed=0, max_length=None, max_word_length=16):
    """Reads a tagged corpus and splits it 80/10/10 into a `TaskData`.

    `path=None` uses the embedded BIO NER corpus; `.conllu` files are read
    with their UPOS column, anything else as whitespace CoNLL columns.
    """
    path = path or DEFAULT_CORPUS
    words, tags = _read(path)
    if len(words) < 3:
        raise ValueError(
            f"Argument `path` must hold at least 3 sentences. Received: {len(words)} in {path}"
        )
    train, val, test = _split(len(words), seed)
    pick = lambda idx, seqs: [seqs[i] for i in idx]  # noqa: E731
    train_words, train_tags = pick(train, words), pick(train, tags)
    labels = sorted({t for s in train_tags for t in s})
    if max_length is None:
        max_length = int(min(128, max(len(s) for s in words)))
    info = {
        "words": Vocabulary.build(train_words).get_config(),
        "chars": Vocabulary.build([list(w) for s in train_words for w in s]).get_config(),
        "tags": labels,
        "max_length": max_length,
        "max_word_length": max_word_length,
        "scheme": "BIO" if _bio_labels(labels) else None,
        "source": os.path.basename(path),
    }
    splits = [encode_tagged(pick(i, words), pick(i, tags), info) for i in (train, val, test)]
    return TaskData(train=splits[0], validation=splits[1], test=splits[2], info=info)


class TaggerTask(Task):
    name = "tagger"
    summary = (
        "BiLSTMCRFTagger (structured prediction: word+char features, BiLSTM, linear-chain CRF)"
    )
    default_data = "a 480-sentence template NER corpus with BIO tags, shipped in the package; --data FILE.conllu for UPOS"
    default_epochs = 12
    default_batch_size = 32
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
            metrics=[TokenAccuracy()],
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
        x, _ = encode_tagged(sentences, None, metadata)
        tags = model.predict(x, verbose=0)
        labels = metadata["tags"]
        return [
            " ".join(f"{w}/{labels[int(t)]}" for w, t in zip(words, row))
            for words, row in zip(sentences, tags)
        ]
