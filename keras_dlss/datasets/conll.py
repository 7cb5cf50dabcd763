"""Readers for tagged corpora (CoNLL-U, CoNLL whitespace columns) and vocabularies.

`read_conllu` reads Universal Dependencies treebanks (one token per line, ten
tab-separated columns, comments starting with `#`); `read_conll` reads the
CoNLL-2000/2003 shared-task format (whitespace-separated columns, the word
first and the BIO tag last, blank lines between sentences). Both return
parallel lists of word and tag sequences and report malformed input as
`ValueError("path:line: ...")`. Paths ending in `.gz`, `.xz` or `.bz2` are
decompressed on the fly (the embedded UD English EWT slice ships as `.xz`).
`Vocabulary` maps tokens to ids with padding (id 0) and an out-of-vocabulary id.

References:
    - Nivre et al., "Universal Dependencies v2", LREC 2020 (CoNLL-U format,
      https://universaldependencies.org/format.html).
    - Tjong Kim Sang & De Meulder, "Introduction to the CoNLL-2003 Shared
      Task", CoNLL 2003.
"""

import bz2
import collections
import gzip
import lzma

import numpy as np

from keras_dlss import _validation as v

CONLLU_COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
PAD, UNK = "<pad>", "<unk>"


_OPENERS = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}


def open_text(path):
    """Opens `path` for reading UTF-8 text, decompressing `.gz`, `.xz` and `.bz2` files."""
    opener = next((f for ext, f in _OPENERS.items() if str(path).endswith(ext)), open)
    return opener(path, "rt", encoding="utf-8")


def _sentences(path):
    """Yields lists of `(line_number, line)` for each blank-line-separated block."""
    block = []
    with open_text(path) as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\n").rstrip("\r")
            if line.strip():
                block.append((number, line))
            elif block:
                yield block
                block = []
    if block:
        yield block


def read_conllu(path, column="upos"):
    """Reads a CoNLL-U file into word and tag sequences.

    Multi-word token lines (`1-2`) and empty nodes (`8.1`) are skipped, so the
    words are the syntactic words that carry the tags.

    Args:
        path: str. Path of a `.conllu` file (or `.conllu.gz` / `.xz` / `.bz2`).
        column: str. Tag column, one of `CONLLU_COLUMNS` (`"upos"`, `"xpos"`,
            `"deprel"`, ...). Defaults to `"upos"`.

    Returns:
        `(words, tags)`: two lists of equal-length lists of strings.

    Raises:
        ValueError: naming `path:line` for a line without 10 tab-separated
            columns, or an unknown `column`.

    Example:

    ```pycon
    >>> words, tags = read_conllu("en_ewt-ud-dev.conllu")  # doctest: +SKIP
    >>> words[0][:3], tags[0][:3]  # doctest: +SKIP
    (['From', 'the', 'AP'], ['ADP', 'DET', 'PROPN'])
    ```
    """
    v.check_one_of("column", column, CONLLU_COLUMNS)
    index = CONLLU_COLUMNS.index(column)
    words, tags = [], []
    for block in _sentences(path):
        sentence_words, sentence_tags = [], []
        for number, line in block:
            if line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 10:
                raise ValueError(
                    f"{path}:{number}: expected 10 tab-separated CoNLL-U columns, got "
                    f"{len(fields)}. Received: line={line!r}"
                )
            if "-" in fields[0] or "." in fields[0]:
                continue
            sentence_words.append(fields[1])
            sentence_tags.append(fields[index])
        if sentence_words:
            words.append(sentence_words)
            tags.append(sentence_tags)
    return words, tags


def read_conll(path, word_column=0, tag_column=-1, scheme=None):
    """Reads whitespace-separated CoNLL columns (CoNLL-2000 chunking, CoNLL-2003 NER).

    Args:
        path: str. Path of the file; `-DOCSTART-` lines are skipped.
        word_column: int. Column of the word. Defaults to 0.
        tag_column: int. Column of the tag. Defaults to -1 (the last).
        scheme: optional `"BIO"`: also check every tag is `O` or `B-`/`I-`
            followed by a type. Defaults to `None`.

    Returns:
        `(words, tags)`: two lists of equal-length lists of strings.

    Raises:
        ValueError: naming `path:line` for a line with too few columns, a
            column count that differs from the file's first line, or a tag outside `scheme`.

    Example:

    ```pycon
    >>> words, tags = read_conll("train.txt", scheme="BIO")  # doctest: +SKIP
    ```
    """
    if scheme is not None:
        v.check_one_of("scheme", scheme, ("BIO",))
    needed = (
        max(word_column, tag_column) + 1 if tag_column >= 0 else max(word_column + 1, -tag_column)
    )
    words, tags, width = [], [], None  # every token line has the first one's width
    for block in _sentences(path):
        sentence_words, sentence_tags = [], []
        for number, line in block:
            fields = line.split()
            if fields[0] == "-DOCSTART-":
                continue
            if len(fields) < needed or (width is not None and len(fields) != width):
                expected = needed if width is None else width
                raise ValueError(
                    f"{path}:{number}: expected {expected} whitespace-separated columns, got "
                    f"{len(fields)}. Received: line={line!r}"
                )
            width = len(fields)
            tag = fields[tag_column]
            if scheme == "BIO" and not _is_bio(tag):
                raise ValueError(
                    f"{path}:{number}: tag {tag!r} is not a BIO tag ('O', 'B-TYPE' or 'I-TYPE')."
                )
            sentence_words.append(fields[word_column])
            sentence_tags.append(tag)
        if sentence_words:
            words.append(sentence_words)
            tags.append(sentence_tags)
    return words, tags


def _is_bio(tag):
    prefix, sep, kind = tag.partition("-")
    return tag == "O" or (sep == "-" and prefix in ("B", "I") and bool(kind))


class Vocabulary:
    """Token <-> id mapping with a padding id 0 and an out-of-vocabulary id.

    Args:
        tokens: list of str. The id of `tokens[i]` is `i`; include `pad`/`unk`
            yourself or build with `Vocabulary.build`.
        pad: str or None. Padding token (must be `tokens[0]`). Defaults to `"<pad>"`.
        unk: str or None. Out-of-vocabulary token; None makes unknown tokens an
            error (use for tag sets). Defaults to `"<unk>"`.
        lowercase: bool. Lowercase tokens before lookup. Defaults to `False`.

    Example:

    ```pycon
    >>> vocab = Vocabulary.build([["The", "cat"], ["the", "dog"]], lowercase=True)
    >>> vocab.encode([["the", "bird"]], max_length=3).tolist()
    [[2, 1, 0]]
    ```
    """

    def __init__(self, tokens, pad=PAD, unk=UNK, lowercase=False):
        self.tokens = list(tokens)
        self.pad, self.unk, self.lowercase = pad, unk, bool(lowercase)
        if pad is not None and (not self.tokens or self.tokens[0] != pad):
            raise ValueError(
                f"Argument `tokens` must start with the padding token {pad!r}. Received: tokens[:3]={self.tokens[:3]}"
            )
        if unk is not None and unk not in self.tokens:
            raise ValueError(
                f"Argument `tokens` must contain the OOV token {unk!r}. Received: {len(self.tokens)} tokens without it"
            )
        self._index = {t: i for i, t in enumerate(self.tokens)}
        if len(self._index) != len(self.tokens):
            raise ValueError("Argument `tokens` must not contain duplicates.")

    @classmethod
    def build(cls, sequences, min_count=1, max_size=None, pad=PAD, unk=UNK, lowercase=False):
        """Builds a vocabulary of the tokens seen at least `min_count` times, most frequent first.

        Args:
            sequences: iterable of token sequences.
            min_count: int. Rarer tokens map to `unk`. Defaults to 1.
            max_size: optional int. Keep at most this many ids (specials included).
            pad, unk, lowercase: as in the constructor.
        """
        v.check_positive_int("min_count", min_count)
        if max_size is not None:
            v.check_positive_int("max_size", max_size)
        counts = collections.Counter(
            t.lower() if lowercase else t for sequence in sequences for t in sequence
        )
        specials = [s for s in (pad, unk) if s is not None]
        ranked = sorted(
            (t for t, c in counts.items() if c >= min_count and t not in specials),
            key=lambda t: (-counts[t], t),
        )
        tokens = specials + ranked
        if max_size is not None:
            tokens = tokens[:max_size]
        return cls(tokens, pad=pad, unk=unk, lowercase=lowercase)

    def __len__(self):
        return len(self.tokens)

    def __contains__(self, token):
        return self._key(token) in self._index

    def _key(self, token):
        return token.lower() if self.lowercase else token

    def index(self, token):
        """Id of `token` (the OOV id when unknown and `unk` is set)."""
        key = self._key(token)
        if key in self._index:
            return self._index[key]
        if self.unk is None:
            raise ValueError(
                f"Token {token!r} is not in the vocabulary (which has no OOV token). Received: token={token!r}"
            )
        return self._index[self.unk]

    def encode(self, sequences, max_length=None):
        """`[N, max_length]` int32 ids, right-padded with 0 and truncated to `max_length`."""
        sequences = list(sequences)
        if max_length is None:
            max_length = max((len(s) for s in sequences), default=0)
        out = np.zeros((len(sequences), max_length), dtype="int32")
        for row, sequence in enumerate(sequences):
            ids = [self.index(t) for t in sequence[:max_length]]
            out[row, : len(ids)] = ids
        return out

    def decode(self, ids, lengths=None):
        """Token lists from an id array; `lengths` (or the padding id) ends each row."""
        result = []
        for row, seq in enumerate(np.asarray(ids)):
            n = len(seq) if lengths is None else int(lengths[row])
            result.append([self.tokens[int(i)] for i in seq[:n]])
        return result

    def get_config(self):
        """JSON-serializable description; `Vocabulary(**config)` rebuilds it."""
        return {
            "tokens": self.tokens,
            "pad": self.pad,
            "unk": self.unk,
            "lowercase": self.lowercase,
        }


def encode_characters(sentences, vocabulary, max_length, max_word_length):
    """`[N, max_length, max_word_length]` character ids of each word (0-padded).

    Args:
        sentences: list of word lists.
        vocabulary: a character `Vocabulary`.
        max_length: int. Words per sentence kept.
        max_word_length: int. Characters per word kept (longer words are cut).
    """
    out = np.zeros((len(sentences), max_length, max_word_length), dtype="int32")
    for i, words in enumerate(sentences):
        for j, word in enumerate(words[:max_length]):
            ids = [vocabulary.index(c) for c in word[:max_word_length]]
            out[i, j, : len(ids)] = ids
    return out
