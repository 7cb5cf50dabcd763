"""Labelled sentences for text classification: a TSV/CSV reader and the shared tokenizer.

`read_text_classification` reads the format of SST-2 as GLUE distributes it
(`sentence<TAB>label` with a header) and its CSV cousins: the header is
optional and detected, labels may be names or integer ids, and a malformed
row is reported with its `file:line`. Every classifier kind of
`applications.TextClassifier`, the count-based baselines and the CLI share
one path from text to ids: `tokenize_text` (lower-cased words, punctuation
and English clitics as separate tokens, as in the Penn Treebank and SST) and
`keras_dlss.datasets.Vocabulary` (id 0 = padding, 1 = `<unk>`). We did not
use `keras.layers.TextVectorization`: its vocabulary lives in a TensorFlow
lookup table that does not run on JAX or PyTorch, and the count-based
baselines need the tokens in Python anyway.

References:
    - Socher et al., "Recursive Deep Models for Semantic Compositionality
      Over a Sentiment Treebank", EMNLP 2013 (SST).
    - Wang et al., "GLUE", ICLR 2019 (https://arxiv.org/abs/1804.07461).
"""

import csv
import os
import re

import numpy as np

from keras_dlss.datasets.conll import Vocabulary

_CLITIC_PIECE = re.compile(r"n't|'\w+")
_HEADER_TEXT = ("sentence", "text", "review", "document", "phrase")
_HEADER_LABEL = ("label", "labels", "sentiment", "class", "category", "target", "y")


def tokenize_text(text):
    """Lower-cased tokens of a sentence: words, punctuation marks and clitics.

    Raw text (`"It's not good."`) and text already tokenized as in SST
    (`"it 's not good ."`) give the same tokens.

    Args:
        text: str. A sentence.

    Returns:
        A list of str.

    Example:

    ```pycon
    >>> tokenize_text("It isn't good, is it?")
    ['it', 'is', "n't", 'good', ',', 'is', 'it', '?']
    ```
    """
    from keras_dlss.applications.tagger import tokenize  # lazy: keeps this module light

    tokens = []
    for piece in str(text).lower().split():
        tokens.extend([piece] if _CLITIC_PIECE.fullmatch(piece) else tokenize(piece))
    return tokens


def encode_texts(texts, vocabulary, max_length=None):
    """`[N, max_length]` int32 token ids of `texts` (right-padded with 0).

    Args:
        texts: list of str (tokenized with `tokenize_text`) or of token lists.
        vocabulary: a `Vocabulary`.
        max_length: optional int. Longer texts are truncated. Defaults to the
            longest text (at least 1).

    Returns:
        A NumPy int32 array.
    """
    tokens = [tokenize_text(t) if isinstance(t, str) else list(t) for t in texts]
    if max_length is None:
        max_length = max([len(t) for t in tokens] + [1])
    return vocabulary.encode(tokens, max_length=max_length)


def build_vocabulary(texts, min_count=1, max_size=None):
    """A `Vocabulary` (`<pad>`, `<unk>`, then tokens by frequency) of `texts`."""
    return Vocabulary.build([tokenize_text(t) for t in texts], min_count, max_size)


def _delimiter(path, delimiter):
    if delimiter is not None:
        return delimiter
    return "," if path.lower().endswith(".csv") else "\t"


def _read_rows(path, delimiter):
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = None if delimiter == "\t" else csv.reader(f, delimiter=delimiter)
        if reader is None:
            for number, line in enumerate(f, 1):
                line = line.rstrip("\r\n")
                if line.strip():
                    rows.append((number, line.split("\t")))
        else:
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append((reader.line_num, row))
    return rows


def _column(name, value, header, width, where):
    if isinstance(value, int):
        if not -width <= value < width:
            raise ValueError(
                f"Argument `{name}` must index one of the {width} columns. Received: {name}={value} ({where})"
            )
        return value % width
    if header is None or value not in header:
        raise ValueError(
            f"Argument `{name}` must name a header column. Received: {name}={value!r}, "
            f"header={header} ({where})"
        )
    return header.index(value)


def _is_header(row):
    cells = [c.strip().lower() for c in row]
    return any(c in _HEADER_TEXT for c in cells) or any(c in _HEADER_LABEL for c in cells)


def read_text_classification(
    path, text_column=None, label_column=None, header="auto", delimiter=None, label_names=None
):
    """Reads `text<TAB>label` (or CSV) rows into texts, label ids and label names.

    Args:
        path: str. A `.tsv`/`.txt` (tab-separated, no quoting) or `.csv` file.
        text_column: int or str. The text column (a header name or an index).
            Defaults to the header's `sentence`/`text` column, else 0.
        label_column: int or str. The label column. Defaults to the header's
            `label`/`sentiment`/`class` column, else the last column.
        header: `"auto"` (a first row naming `sentence`, `text`, `label`, ...
            is a header), True or False. Defaults to `"auto"`.
        delimiter: optional str. Defaults to `","` for `.csv`, else a tab.
        label_names: optional list of str. Fixes the label ids (a label not
            in it is an error); otherwise integer labels are used as ids and
            names are sorted.

    Returns:
        `(texts, labels, label_names)`: a list of str, an int32 array and a
        list of str (`label_names[labels[i]]` names the i-th label).

    Raises:
        ValueError: naming `path` for a missing or empty file and for a
            malformed row (with its `file:line`), `label_column` when the
            rows have no label column.

    Example:

    ```python
    import os, tempfile
    path = os.path.join(tempfile.mkdtemp(), "reviews.tsv")
    with open(path, "w") as f:
        f.write("sentence\\tlabel\\nit 's good\\t1\\nnot good\\t0\\n")
    texts, labels, names = read_text_classification(path)
    assert texts == ["it 's good", "not good"] and labels.tolist() == [1, 0]
    ```
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"Argument `path` must be an existing file. Received: path={path!r}")
    if header not in ("auto", True, False):
        raise ValueError(
            f"Argument `header` must be 'auto', True or False. Received: header={header!r}"
        )
    rows = _read_rows(path, _delimiter(path, delimiter))
    if not rows:
        raise ValueError(f"Argument `path` must hold at least one row. Received: empty file {path}")
    names = None
    if header is True or (header == "auto" and _is_header(rows[0][1])):
        names = [c.strip().lower() for c in rows[0][1]]
        rows = rows[1:]
        if not rows:
            raise ValueError(f"Argument `path` must hold rows after its header. Received: {path}")
    width = len(names) if names else len(rows[0][1])
    where = f"{path}:{rows[0][0]}"
    if width < 2:
        raise ValueError(
            f"Argument `label_column` must name a column, but the rows have 1 column (no delimiter "
            f"{_delimiter(path, delimiter)!r}). Received: label_column={label_column!r} ({where})"
        )
    if text_column is None:
        text_column = next((n for n in _HEADER_TEXT if names and n in names), 0)
    if label_column is None:
        label_column = next((n for n in _HEADER_LABEL if names and n in names), width - 1)
    t = _column("text_column", text_column, names, width, where)
    lab = _column("label_column", label_column, names, width, where)
    texts, raw = [], []
    for number, row in rows:
        if len(row) != width:
            raise ValueError(
                f"Argument `path` has a malformed row: {len(row)} columns where {width} are "
                f"expected. Received: {path}:{number}: {row!r:.80}"
            )
        if not row[t].strip() or not row[lab].strip():
            raise ValueError(
                f"Argument `path` has an empty text or label. Received: {path}:{number}: {row!r:.80}"
            )
        texts.append(row[t].strip())
        raw.append((number, row[lab].strip()))
    labels, label_names = _label_ids(raw, label_names, path)
    return texts, labels, label_names


def _label_ids(raw, label_names, path):
    values = [value for _, value in raw]
    if label_names is not None:
        index = {str(n): i for i, n in enumerate(label_names)}
        for number, value in raw:
            if value not in index:
                raise ValueError(
                    f"Argument `label_names` does not contain the label {value!r}. "
                    f"Received: label_names={list(label_names)} ({path}:{number})"
                )
        return np.array([index[x] for x in values], "int32"), [str(n) for n in label_names]
    if all(re.fullmatch(r"\d+", x) for x in values):
        ids = np.array([int(x) for x in values], "int32")
        return ids, [str(i) for i in range(int(ids.max()) + 1)]
    names = sorted(set(values))
    index = {n: i for i, n in enumerate(names)}
    return np.array([index[x] for x in values], "int32"), names
