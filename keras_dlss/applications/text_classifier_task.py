"""`keras-dlss train|predict text-classifier`: the sentence-classifier family on the CLI.

Default data: generated movie-review sentences with negation and "but"
clauses (`keras_dlss.datasets.sentiment_sentences`; SST-2 has no license
that allows shipping it). `--data FILE.tsv` trains on the user's
`text<TAB>label` (or `.csv`) file, split 80/10/10. `--kind` picks the
classifier (`bow`, `cbow`, `deep_cbow`, `cnn`, `bilstm`, `sif`) and
`--vectors FILE.vec` initializes the embeddings from word2vec/fastText text
vectors (`--freeze-vectors` keeps them fixed). Besides test accuracy,
`metrics.json` reports accuracy on the negation probe set.
"""

import os

import numpy as np

from keras_dlss.applications.base import Task, TaskData
from keras_dlss.applications.text_classifier import KINDS, TextClassifier, fit_sif
from keras_dlss.datasets.conll import Vocabulary
from keras_dlss.datasets.text_classification import (
    build_vocabulary,
    encode_texts,
    read_text_classification,
)
from keras_dlss.datasets.text_sentiment import negation_probe, sentiment_sentences

MAX_LENGTH = 64


def _split(n, seed):
    order = np.random.default_rng(seed).permutation(n)
    a, b = int(n * 0.8), int(n * 0.9)
    return order[:a], order[a:b], order[b:]


def load_text_classification(path=None, seed=0, max_length=MAX_LENGTH, min_count=1):
    """Encoded train / validation / test splits of a labelled text file or of the generated set.

    Args:
        path: None for the generated sentiment sentences (3,000 train, 400
            validation, 400 test), or a TSV/CSV file read with
            `read_text_classification` and split 80/10/10.
        seed: int. Seed of the split and of the generator.
        max_length: int. Tokens kept per text. Defaults to `64`.
        min_count: int. Rarer training tokens map to `<unk>`.

    Returns:
        A `TaskData` whose `info` holds the vocabulary, `max_length` and the
        label names.
    """
    if path is None:
        texts, labels = sentiment_sentences(3800, seed=seed)
        names, source = ["negative", "positive"], "generated sentiment sentences"
        train, val, test = np.arange(3000), np.arange(3000, 3400), np.arange(3400, 3800)
    else:
        texts, labels, names = read_text_classification(path)
        if len(texts) < 10:
            raise ValueError(
                f"Argument `data` must hold at least 10 labelled texts. Received: {len(texts)} in {path}"
            )
        train, val, test = _split(len(texts), seed)
        source = os.path.basename(path)
    vocabulary = build_vocabulary([texts[i] for i in train], min_count=min_count)
    lengths = [len(t.split()) for t in texts]
    length = int(min(max_length, max(lengths) + 8))

    def pick(index):
        return encode_texts([texts[i] for i in index], vocabulary, length), labels[index]

    info = {
        "source": source,
        "vocabulary": vocabulary.get_config(),
        "max_length": length,
        "label_names": names,
    }
    return TaskData(pick(train), pick(val), pick(test), info)


class TextClassifierTask(Task):
    name = "text-classifier"
    summary = "TextClassifier: bag of words, CBOW, deep CBOW, CNN, BiLSTM or SIF (--kind)"
    default_data = "generated movie-review sentences with negation and 'but' clauses (3,800)"
    data_license = "generated"
    default_epochs = 10
    default_batch_size = 32
    monitor = "val_loss"
    patience = 3
    options = {
        "kind": {"choices": KINDS, "help": "classifier kind (default cnn)"},
        "embedding-dim": {"type": int, "help": "embedding size (default 64)"},
        "hidden-dim": {"type": int, "help": "deep CBOW / LSTM units (default 64)"},
        "vectors": {"help": "word2vec/fastText text file to initialize the embeddings"},
        "freeze-vectors": {"action": "store_true", "help": "keep --vectors fixed"},
    }

    def load_data(self, path=None, seed=0):
        return load_text_classification(path, seed)

    def build_model(
        self,
        data,
        *,
        jit_compile=True,
        seed=0,
        kind="cnn",
        embedding_dim=64,
        hidden_dim=64,
        vectors=None,
        freeze_vectors=False,
        **hparams,
    ):
        import keras

        from keras_dlss.datasets.text_vectors import embedding_matrix, load_word_vectors

        keras.utils.set_random_seed(seed)
        vocabulary = Vocabulary(**data.info["vocabulary"])
        embeddings = None
        if vectors is not None:
            words, matrix = load_word_vectors(vectors)
            embeddings, coverage = embedding_matrix(vocabulary, words, matrix, seed)
            data.info["vector_coverage"] = coverage
        model = TextClassifier(
            len(vocabulary),
            len(data.info["label_names"]),
            kind or "cnn",
            embedding_dim=embedding_dim or 64,
            hidden_dim=hidden_dim or 64,
            filters=hparams.pop("filters", 64),
            embeddings=embeddings,
            trainable_embeddings=not freeze_vectors,
            **hparams,
        )
        if kind == "sif":
            fit_sif(model, data.train[0])
        model.compile(
            optimizer=keras.optimizers.Adam(1e-2 if kind in ("bow", "sif") else 1e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=jit_compile,
        )
        return model

    def evaluate(self, model, data):
        metrics = super().evaluate(model, data)
        texts, labels, categories = negation_probe()
        vocabulary = Vocabulary(**data.info["vocabulary"])
        x = encode_texts(texts, vocabulary, data.info["max_length"])
        predicted = model.predict(x, verbose=0).argmax(-1)
        metrics["negation_probe_accuracy"] = float(np.mean(predicted == labels))
        return metrics

    def search_space(self, hp):
        return {
            "kind": hp.Choice("kind", list(KINDS)),
            "embedding_dim": hp.Choice("embedding_dim", [32, 64, 128]),
            "dropout": hp.Float("dropout", 0.0, 0.5, step=0.25),
        }

    def predict(self, model, inputs, metadata):
        vocabulary = Vocabulary(**metadata["vocabulary"])
        x = encode_texts(inputs, vocabulary, metadata["max_length"])
        probs = model.predict(x, verbose=0)
        names = metadata["label_names"]
        return [f"{names[int(i)]} (p={p[i]:.3f})" for p, i in zip(probs, probs.argmax(-1))]
