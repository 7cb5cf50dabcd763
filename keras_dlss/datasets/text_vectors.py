"""Pretrained word vectors in the word2vec / fastText text format.

The user supplies the file (GloVe, word2vec or fastText `.vec` text files;
nothing is downloaded): one word and its D numbers per line, optionally
after a `"N D"` header line. `embedding_matrix` turns the vectors into the
initial weights of an `Embedding` for a `Vocabulary`, so that any kind of
`applications.TextClassifier` can start from them (frozen or fine-tuned).

References:
    - Mikolov et al., "Distributed Representations of Words and Phrases and
      their Compositionality", NeurIPS 2013 (word2vec).
    - Bojanowski et al., "Enriching Word Vectors with Subword Information",
      TACL 2017 (fastText).
"""

import os

import numpy as np

from keras_dlss import _validation as v


def load_word_vectors(path, max_words=None, lowercase=False):
    """Reads word vectors in the word2vec / fastText / GloVe text format.

    Args:
        path: str. A text file: an optional `"N D"` header line, then one
            `word x_1 ... x_D` line per word.
        max_words: optional int. Read only the first `max_words` vectors
            (files list frequent words first).
        lowercase: bool. Lower-case the words; the first vector of a word
            wins. Defaults to `False`.

    Returns:
        `(words, vectors)`: a list of N str and an `[N, D]` float32 array.

    Raises:
        ValueError: naming `path` for a missing or empty file, or a line with
            the wrong number of values (with its `file:line`).

    Example:

    ```python
    import os, tempfile
    path = os.path.join(tempfile.mkdtemp(), "vectors.vec")
    with open(path, "w") as f:
        f.write("2 3\\ngood 0.1 0.2 0.3\\nbad -0.1 -0.2 -0.3\\n")
    words, vectors = load_word_vectors(path)
    assert words == ["good", "bad"] and vectors.shape == (2, 3)
    ```
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"Argument `path` must be an existing file. Received: path={path!r}")
    if max_words is not None:
        v.check_positive_int("max_words", max_words)
    words, rows, seen, dim = [], [], set(), None
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                dim = int(parts[1])  # the word2vec / fastText header "N D"
                continue
            if not line.strip():
                continue
            dim = dim or len(parts) - 1
            if len(parts) != dim + 1 or dim < 1:
                raise ValueError(
                    f"Argument `path` has a malformed vector line: {len(parts) - 1} values where "
                    f"{dim} are expected. Received: {path}:{number}: {line[:60]!r}"
                )
            try:
                values = [float(x) for x in parts[1:]]
            except ValueError:
                raise ValueError(
                    f"Argument `path` has a non-numeric vector value. Received: {path}:{number}: {line[:60]!r}"
                ) from None
            word = parts[0].lower() if lowercase else parts[0]
            if word in seen:
                continue
            seen.add(word)
            words.append(word)
            rows.append(values)
            if max_words is not None and len(words) >= max_words:
                break
    if not words:
        raise ValueError(
            f"Argument `path` must hold at least one vector. Received: empty file {path}"
        )
    return words, np.asarray(rows, "float32")


def embedding_matrix(vocabulary, words, vectors, seed=0):
    """Initial `Embedding` weights for `vocabulary` from pretrained vectors.

    Rows of words found in `words` (exactly, else lower-cased) copy their
    vector; other rows are drawn from a normal distribution with the
    vectors' own standard deviation; the padding row (id 0) is zero.

    Args:
        vocabulary: a `keras_dlss.datasets.Vocabulary`.
        words: list of str, as returned by `load_word_vectors`.
        vectors: `[N, D]` array.
        seed: int. Seed of the rows of words without a vector.

    Returns:
        `(matrix, coverage)`: a `[len(vocabulary), D]` float32 array and the
        fraction of the vocabulary (padding and `<unk>` excluded) found.

    Example:

    ```python
    from keras_dlss.datasets import Vocabulary
    vocab = Vocabulary.build([["good", "film"]])
    matrix, coverage = embedding_matrix(vocab, ["good"], np.ones((1, 4)))
    assert matrix.shape == (4, 4) and coverage == 0.5
    ```
    """
    vectors = np.asarray(vectors, "float32")
    if vectors.ndim != 2 or len(vectors) != len(words):
        raise ValueError(
            f"Argument `vectors` must be [len(words), D]. Received: vectors.shape={vectors.shape}, "
            f"len(words)={len(words)}"
        )
    index = {w: i for i, w in enumerate(words)}
    lower = {}
    for i, w in enumerate(words):
        lower.setdefault(w.lower(), i)
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, float(vectors.std()) or 0.1, (len(vocabulary), vectors.shape[1]))
    matrix = matrix.astype("float32")
    specials = {vocabulary.pad, vocabulary.unk}
    found = total = 0
    for row, token in enumerate(vocabulary.tokens):
        if token in specials:
            continue
        total += 1
        i = index.get(token, lower.get(token.lower()))
        if i is not None:
            matrix[row] = vectors[i]
            found += 1
    if vocabulary.pad is not None:
        matrix[0] = 0.0
    return matrix, found / max(total, 1)
