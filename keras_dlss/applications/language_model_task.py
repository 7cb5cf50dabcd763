"""`keras-dlss train|generate language-model`: the RNN language model on the command line.

Default data: the Python documentation's topic help bundled with CPython
(`pydoc_data.topics`, Python Software Foundation License), split 80/10/10 by
line; `--data FILE.txt` (or a `.conllu` treebank's word forms) replaces it.
`--level word|char` picks the tokens (it changes the data, so it is one of the
task's `data_options`), `--cell lstm|gru|mlstm|stacked|hmlstm`, `--units`,
`--num-layers` the model (`hmlstm`: the boundary slope is annealed as in
Chung et al. 2017, `min(5, 1 + 0.04 * epoch)`). Training reports perplexity on the held-out test stream; `generate`
continues `--primer "text"` by sampling through `keras_dlss.decoding.sample`.
"""

import math

import keras
import numpy as np

from keras_dlss._validation import check_one_of
from keras_dlss.applications.base import Task, TaskData, compiled
from keras_dlss.applications.language_model import CELLS, RNNLanguageModel
from keras_dlss.datasets.conll import Vocabulary
from keras_dlss.datasets.text_corpus import (
    PYTHON_DOCS_LICENSE,
    LanguageModelCorpus,
    load_text_corpus,
)

__all__ = ["LanguageModelTask", "generate_text"]

WINDOWS = {"word": 35, "char": 100}  # BPTT lengths of Zaremba et al. 2014 (word) and Graves 2013
MAX_VOCABULARY = 10000  # Mikolov's PTB size; rarer training words become <unk>


def _corpus_from_metadata(metadata):
    vocabulary = Vocabulary(metadata["vocabulary"], lowercase=metadata.get("lowercase", False))
    empty = np.zeros((0,), "int32")
    return LanguageModelCorpus(vocabulary, metadata["level"], empty, empty, empty)


def generate_text(
    model,
    corpus,
    primer="",
    length=200,
    temperature=1.0,
    top_k=None,
    top_p=None,
    seed=None,
    jit_compile=True,
):
    """Samples `length` tokens continuing `primer` text; returns primer + continuation.

    Args:
        model: an `RNNLanguageModel` (unconditioned).
        corpus: the `LanguageModelCorpus` (or one rebuilt from metadata) whose
            vocabulary the model was trained on.
        primer: str. Text to continue; empty starts a new line. Defaults to `""`.
        length: int. Tokens to sample. Defaults to `200`.
        temperature, top_k, top_p, seed: as in `keras_dlss.decoding.sample`.
        jit_compile: bool. One XLA program for the sampling loop (TensorFlow
            backend). Defaults to `True`.

    Returns:
        str.
    """
    from keras_dlss.decoding import sample

    if len(corpus.vocabulary) != model.vocabulary_size:
        raise ValueError(
            f"Argument `vocabulary` has {len(corpus.vocabulary)} tokens but the model predicts "
            f"{model.vocabulary_size}: the metadata does not belong to this model. "
            f"Received: len(vocabulary)={len(corpus.vocabulary)}"
        )
    ids = corpus.encode(primer)[:-1] if primer and primer.strip() else np.zeros((0,), "int32")
    start = int(ids[-1]) if ids.size else corpus.eos_id
    prefill = (
        np.concatenate([[corpus.eos_id], ids[:-1]]).astype("int32")[None] if ids.size else None
    )
    state = model.initial_decoding_state(1, primer=prefill)

    def run(state):
        # Padding (id 0) as the end token: sampling continues across <eos> (new lines).
        return sample(
            model.step,
            state,
            start,
            0,
            length,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
        )

    sequences, _ = compiled(run, jit_compile)(state)
    tokens = np.asarray(keras.ops.convert_to_numpy(sequences))[0]
    return corpus.decode(np.concatenate([ids, tokens]))


def slope_annealing(slope, rate=0.04, maximum=5.0):
    """A callback setting the HM-LSTM slope to `min(maximum, 1 + rate * epoch)` (Chung et al.)."""

    def anneal(epoch, logs=None):
        slope.assign(min(maximum, 1.0 + rate * epoch))

    return keras.callbacks.LambdaCallback(on_epoch_begin=anneal)


class LanguageModelTask(Task):
    name = "language-model"
    summary = "RNN language model (LSTM, GRU, mLSTM, skip-stacked LSTM or HM-LSTM), perplexity"
    default_data = "Python documentation topics bundled with CPython (pydoc_data), no download"
    data_license = PYTHON_DOCS_LICENSE
    default_epochs = 10
    default_batch_size = 32
    monitor = "val_loss"
    patience = 2
    options = {
        "level": {"choices": ["word", "char"], "help": "tokens: words or characters"},
        "cell": {
            "choices": list(CELLS),
            "help": "recurrent cell; stacked: LSTMs with skip connections (Graves 2013), "
            "hmlstm: hierarchical multiscale LSTM (Chung et al. 2017)",
        },
        "units": {"type": int, "help": "units per recurrent layer (default 256)"},
        "num-layers": {"type": int, "help": "recurrent layers (default 1)"},
    }
    # Options that change the data: `train` hands them to `load_data`, not `build_model`.
    data_options = ("level",)
    # `generate --primer "text"`: the primer is text, not a file.
    text_primer = True

    def load_data(self, path=None, seed=0, level="word"):
        check_one_of("level", level, ("word", "char"))
        corpus = load_text_corpus(
            path, level, max_vocabulary=MAX_VOCABULARY if level == "word" else None
        )
        window = WINDOWS[level]
        splits = [corpus.windows(split, window) for split in ("train", "valid", "test")]
        info = {
            "source": path or self.default_data,
            "level": level,
            "window": window,
            "lowercase": corpus.vocabulary.lowercase,
            "vocabulary": corpus.vocabulary.tokens,
            "primer": corpus.decode(corpus.test[:8]).strip(),
        }
        return TaskData(splits[0], splits[1], splits[2], info)

    def build_model(self, data, *, jit_compile=True, seed=0, **hparams):
        keras.utils.set_random_seed(seed)
        level = data.info["level"]
        units = hparams.pop("units", None) or 256
        model = RNNLanguageModel(
            vocabulary_size=len(data.info["vocabulary"]),
            level=level,
            units=units,
            embedding_dim=units if level == "word" else 64,
            **hparams,
        )
        model.compile(jit_compile=jit_compile)
        return model

    def fit(self, model, data, *, epochs, batch_size, callbacks, verbose=1):
        if model.slope is not None:
            callbacks = [*(callbacks or []), slope_annealing(model.slope)]
        return super().fit(
            model, data, epochs=epochs, batch_size=batch_size, callbacks=callbacks, verbose=verbose
        )

    def evaluate(self, model, data):
        metrics = super().evaluate(model, data)
        # Mean NLL per token in bits: bits per character at the character level.
        metrics["test_bits_per_token"] = math.log2(metrics["test_perplexity"])
        return metrics

    def search_space(self, hp):
        return {
            "units": hp.Choice("units", [128, 256, 512]),
            "cell": hp.Choice("cell", list(CELLS)),
            "dropout": hp.Float("dropout", 0.0, 0.5, step=0.25),
        }

    def generate(
        self,
        model,
        metadata,
        out,
        primer=None,
        temperature=1.0,
        top_p=None,
        top_k=None,
        seed=0,
        length=200,
        **options,
    ):
        """Writes `primer` continued by `length` sampled tokens to `out` (text)."""
        text = generate_text(
            model,
            _corpus_from_metadata(metadata),
            primer or "",
            length=length,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
        )
        with open(out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        print(text)
        return [out]

    def save_artifacts(self, model, data, out_dir):
        """A short sample continuing a test line (`sample.txt`)."""
        import os

        path = os.path.join(out_dir, "sample.txt")
        return self.generate(model, data.info, path, primer=data.info["primer"], length=60)
