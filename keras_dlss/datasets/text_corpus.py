"""Token streams for language models: a bundled English corpus, user text and CoNLL-U word forms.

The bundled corpus needs no download: it is the topic help of the Python
documentation that ships inside every CPython as `pydoc_data.topics`
(79 topics, about 465,000 characters of English prose and grammar; Python
Software Foundation License Version 2, the license of the Python
documentation). Any `.txt` file (`read_text_file`) or the word forms of a
CoNLL-U treebank (`conllu_word_forms`) can replace it.

A language model reads a stream of token ids in which every line (sentence)
ends with `<eos>` (Mikolov et al. 2010). The vocabulary is closed and built
from the training split only: validation and test tokens never seen in
training become `<unk>`, so perplexities of different models on the same
split are computed over the same ids. Id 0 is padding (`<pad>`), 1 is
`<unk>`, 2 is `<eos>`.

References:
    - Mikolov et al., "Recurrent neural network based language model",
      Interspeech 2010.
"""

import collections
import dataclasses
import re

import numpy as np

from keras_dlss import _validation as v
from keras_dlss.datasets.conll import PAD, UNK, Vocabulary, open_text, read_conllu

__all__ = [
    "EOS",
    "LanguageModelCorpus",
    "build_language_model_corpus",
    "conllu_word_forms",
    "load_text_corpus",
    "python_documentation_text",
    "read_text_file",
    "tokenize_lines",
]

EOS = "<eos>"
PYTHON_DOCS_LICENSE = "Python Software Foundation License Version 2 (the Python documentation)"
LEVELS = ("word", "char")
# Words, numbers and single punctuation marks: "don't" -> "don", "'", "t", as in PTB-style LMs.
_WORD = re.compile(r"\w+|[^\w\s]")


def python_documentation_text():
    """The topic help of the Python documentation (`pydoc_data.topics`), bundled with CPython.

    Returns:
        str: the topics in sorted order, separated by blank lines.
    """
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name] for name in sorted(topics))


def read_text_file(path):
    """Reads a UTF-8 text file (`.gz`, `.xz`, `.bz2` decompressed).

    Raises:
        ValueError: naming `path` when the file holds no text.
    """
    with open_text(path) as f:
        text = f.read()
    if not text.strip():
        raise ValueError(f"Argument `path` names an empty text file. Received: path={path!r}")
    return text


def conllu_word_forms(path):
    """Sentences of a CoNLL-U treebank as lists of word forms (syntactic words)."""
    words, _ = read_conllu(path)
    if not words:
        raise ValueError(f"Argument `path` holds no CoNLL-U sentence. Received: path={path!r}")
    return words


def tokenize_lines(text, level="word", lowercase=False):
    """Splits `text` into sentences (its non-empty lines) of word or character tokens.

    Args:
        text: str.
        level: `"word"` (words and punctuation marks) or `"char"`. Defaults to `"word"`.
        lowercase: bool. Defaults to `False`.

    Returns:
        list of lists of str, one per non-empty line (`<eos>` not included).
    """
    v.check_one_of("level", level, LEVELS)
    sentences = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        line = line.lower() if lowercase else line
        sentences.append(_WORD.findall(line) if level == "word" else list(line))
    return sentences


@dataclasses.dataclass
class LanguageModelCorpus:
    """Train/validation/test id streams over one closed vocabulary.

    Attributes:
        vocabulary: `Vocabulary` built from the training split (`<pad>`=0,
            `<unk>`=1, `<eos>`=2).
        level: `"word"` or `"char"`.
        train, valid, test: 1-D int32 id streams, every sentence ended by `<eos>`.
    """

    vocabulary: Vocabulary
    level: str
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray

    @property
    def eos_id(self):
        return self.vocabulary.index(EOS)

    def encode(self, text):
        """`text` as a 1-D id stream (sentences ended by `<eos>`)."""
        return _stream(tokenize_lines(text, self.level, self.vocabulary.lowercase), self.vocabulary)

    def decode(self, ids):
        """Text from ids: `<eos>` becomes a newline, padding is dropped."""
        out = []
        for i in np.asarray(ids).reshape(-1):
            token = self.vocabulary.tokens[int(i)]
            if token == EOS:
                out.append("\n")
            elif token != PAD:
                out.append(token if self.level == "char" else token + " ")
        return "".join(out).replace(" \n", "\n")

    def windows(self, split, length):
        """Next-token pairs `(x, y)`, each `[N, length]` int32, cut from one split.

        `x` holds tokens `0..n-2` of the stream and `y` tokens `1..n-1`, in
        consecutive non-overlapping windows; the last window is right-padded
        with 0 in both (so a padded `x` position is exactly a padded target).
        """
        length = v.check_positive_int("length", length)
        stream = getattr(self, v.check_one_of("split", split, ("train", "valid", "test")))
        return stream_windows(stream, length)


def stream_windows(stream, length):
    """`(x, y)` windows of a 1-D id stream; see `LanguageModelCorpus.windows`."""
    stream = np.asarray(stream, "int32")
    n = max(len(stream) - 1, 0)
    rows = max(-(-n // length), 1)
    x = np.zeros((rows * length,), "int32")
    y = np.zeros((rows * length,), "int32")
    x[:n], y[:n] = stream[:-1], stream[1:]
    return x.reshape(rows, length), y.reshape(rows, length)


def _stream(sentences, vocabulary):
    eos = vocabulary.index(EOS)
    ids = [i for s in sentences for i in [*(vocabulary.index(t) for t in s), eos]]
    return np.asarray(ids, "int32")


def build_language_model_corpus(
    train, valid, test, level="word", min_count=1, max_vocabulary=None, lowercase=False
):
    """A `LanguageModelCorpus` from tokenized splits, vocabulary from `train` only.

    Args:
        train, valid, test: lists of token lists (sentences).
        level: `"word"` or `"char"` (how `decode` joins tokens). Defaults to `"word"`.
        min_count: int. Training tokens seen fewer times become `<unk>`. Defaults to `1`.
        max_vocabulary: int or None. Keep the most frequent tokens (specials
            included). Defaults to `None`.
        lowercase: bool. Defaults to `False`.

    Returns:
        A `LanguageModelCorpus`.
    """
    v.check_one_of("level", level, LEVELS)
    v.check_positive_int("min_count", min_count)
    if max_vocabulary is not None:
        v.check_positive_int("max_vocabulary", max_vocabulary, minimum=4)
    if not any(train):
        raise ValueError("Argument `train` must hold at least one token. Received: train=[]")
    counts = collections.Counter(t.lower() if lowercase else t for s in train for t in s)
    specials = [PAD, UNK, EOS]
    ranked = sorted(
        (t for t, c in counts.items() if c >= min_count and t not in specials),
        key=lambda t: (-counts[t], t),
    )
    tokens = (specials + ranked)[:max_vocabulary]
    vocabulary = Vocabulary(tokens, lowercase=lowercase)
    return LanguageModelCorpus(
        vocabulary, level, *(_stream(s, vocabulary) for s in (train, valid, test))
    )


def load_text_corpus(
    path=None,
    level="word",
    lowercase=False,
    min_count=1,
    max_vocabulary=None,
    split=(0.8, 0.1, 0.1),
):
    """Loads a text (the bundled Python documentation by default) as a language-model corpus.

    Lines are split into consecutive train/validation/test blocks (in order:
    no shuffling, so no test sentence is a neighbour of a training one).

    Args:
        path: str or None. A `.txt` file, a `.conllu` treebank (its word forms),
            or None for the bundled Python documentation topics.
        level: `"word"` or `"char"`. Defaults to `"word"`.
        lowercase: bool. Defaults to `False`.
        min_count: int. Defaults to `1`.
        max_vocabulary: int or None. Defaults to `None`.
        split: three fractions summing to 1. Defaults to `(0.8, 0.1, 0.1)`.

    Returns:
        A `LanguageModelCorpus`.

    Example:

    ```python
    from keras_dlss.datasets import load_text_corpus

    corpus = load_text_corpus(level="char")
    x, y = corpus.windows("valid", 64)
    print(len(corpus.vocabulary), x.shape, corpus.decode(x[0][:20]))
    ```

    References:
        Mikolov et al., "Recurrent neural network based language model", 2010.
    """
    v.check_one_of("level", level, LEVELS)
    if len(split) != 3 or min(split) < 0 or not np.isclose(sum(split), 1.0) or split[0] <= 0:
        raise ValueError(
            f"Argument `split` must be three non-negative fractions summing to 1. Received: split={split!r}"
        )
    if path is None:
        sentences = tokenize_lines(python_documentation_text(), level)
    elif str(path).endswith((".conllu", ".conllu.gz", ".conllu.xz")):
        words = conllu_word_forms(path)
        sentences = words if level == "word" else [list(" ".join(s)) for s in words]
    else:
        sentences = tokenize_lines(read_text_file(path), level)
    if len(sentences) < 3:
        raise ValueError(
            f"Argument `path` must hold at least 3 non-empty lines. Received: path={path!r} "
            f"({len(sentences)} lines)"
        )
    a = min(max(1, int(round(split[0] * len(sentences)))), len(sentences) - 2)
    b = min(len(sentences) - 1, a + max(1, int(round(split[1] * len(sentences)))))
    return build_language_model_corpus(
        sentences[:a],
        sentences[a:b],
        sentences[b:],
        level=level,
        min_count=min_count,
        max_vocabulary=max_vocabulary,
        lowercase=lowercase,
    )
