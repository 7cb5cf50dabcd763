"""Dependency trees from CoNLL-U files: reading, validation and projectivity.

A sentence of `n` words is a head array `heads` of length `n`: `heads[i]` is
the 1-based position of word `i + 1`'s head, 0 for the root (the CoNLL-U HEAD
column as integers). `check_heads` accepts an array only if it is a tree:
every head in `[0, n]`, no word its own head, exactly one word attached to
the root (the UD rule; `single_root=False` allows several) and no cycle.

Non-projective trees (7% of UD English EWT's sentences have a crossing arc)
are *filtered*, not lifted: `read_conllu_trees(..., projective_only=True)`
drops them, which is what a projective transition system or Eisner decoding
needs. Pseudo-projective lifting (Nivre & Nilsson 2005) is not implemented;
graph-based parsers with Chu-Liu/Edmonds decoding train on every tree.

References:
    - Nivre et al., "Universal Dependencies v2", LREC 2020 (CoNLL-U,
      https://universaldependencies.org/format.html).
    - Nivre & Nilsson, "Pseudo-Projective Dependency Parsing", ACL 2005.
"""

import dataclasses

import numpy as np

from keras_dlss import _validation as v
from keras_dlss.datasets.conll import CONLLU_COLUMNS, _sentences


@dataclasses.dataclass
class DependencyTree:
    """One sentence's syntactic words and their tree.

    Attributes:
        words: list of str. The FORM column of the syntactic words.
        heads: list of int. `heads[i]` is the 1-based head of word `i + 1`, 0 = root.
        columns: dict mapping each other requested column name (`"upos"`,
            `"deprel"`, ...) to its list of strings.
    """

    words: list
    heads: list
    columns: dict = dataclasses.field(default_factory=dict)

    def __len__(self):
        return len(self.words)

    @property
    def upos(self):
        return self.columns.get("upos")

    @property
    def deprels(self):
        return self.columns.get("deprel")


def check_heads(heads, name="heads", single_root=True):
    """Raises ValueError unless `heads` is a well-formed dependency tree; returns it as int array.

    Args:
        heads: sequence of int. `heads[i]` is the 1-based head of word `i + 1`, 0 = root.
        name: str. Argument name quoted in errors. Defaults to `"heads"`.
        single_root: bool. Require exactly one word attached to the root. Defaults to True.

    Returns:
        The heads as a 1-D int64 NumPy array.

    Example:

    ```pycon
    >>> check_heads([2, 0, 2]).tolist()
    [2, 0, 2]
    ```
    """
    arr = np.asarray(heads)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"Argument `{name}` must be a non-empty 1-D sequence of ints. "
            f"Received: {name}={list(np.ravel(arr))[:10]}"
        )
    n = arr.size
    if arr.min() < 0 or arr.max() > n:
        raise ValueError(
            f"Argument `{name}` must hold heads in [0, {n}] (0 = root). Received: {name}={arr.tolist()}"
        )
    if np.any(arr == np.arange(1, n + 1)):
        raise ValueError(
            f"Argument `{name}` has a word that is its own head. Received: {name}={arr.tolist()}"
        )
    roots = int(np.sum(arr == 0))
    if roots == 0 or (single_root and roots > 1):
        raise ValueError(
            f"Argument `{name}` must attach {'exactly one word' if single_root else 'a word'} to the "
            f"root (head 0); it attaches {roots}. Received: {name}={arr.tolist()}"
        )
    # Each word's path to the root must end within n steps; a cycle never reaches 0.
    node = np.arange(1, n + 1)
    for _ in range(n):
        node = np.where(node > 0, arr[np.maximum(node, 1) - 1], 0)
    if np.any(node != 0):
        cyclic = (np.nonzero(node)[0] + 1).tolist()
        raise ValueError(
            f"Argument `{name}` has a cycle (words {cyclic} never reach the root). "
            f"Received: {name}={arr.tolist()}"
        )
    return arr.astype("int64")


def is_projective(heads):
    """Whether the tree `heads` has no crossing arcs (the root arc from position 0 included).

    Args:
        heads: sequence of int. 1-based heads, 0 = root.

    Returns:
        bool.

    Example:

    ```pycon
    >>> is_projective([2, 0, 2]), is_projective([3, 4, 0, 3])
    (True, False)
    ```
    """
    heads = [int(h) for h in heads]
    arcs = [(min(h, d), max(h, d)) for d, h in enumerate(heads, start=1)]
    for i, (a, b) in enumerate(arcs):
        for c, d in arcs[i + 1 :]:
            if a < c < b < d or c < a < d < b:
                return False
    return True


def read_conllu_trees(
    path, columns=("form", "upos", "head", "deprel"), projective_only=False, single_root=True
):
    """Reads a CoNLL-U file into `DependencyTree`s.

    Multi-word token lines (`1-2`) and empty nodes (`8.1`) are skipped: the
    tree is over syntactic words, whose HEAD column refers to syntactic-word IDs.

    Args:
        path: str. A `.conllu` file (or `.conllu.gz` / `.xz` / `.bz2`).
        columns: tuple of CoNLL-U column names; must contain `"form"` and
            `"head"`. The others become `DependencyTree.columns`.
            Defaults to `("form", "upos", "head", "deprel")`.
        projective_only: bool. Drop non-projective trees (filtering, not
            pseudo-projective lifting). Defaults to False.
        single_root: bool. Require one word attached to the root. Defaults to True.

    Returns:
        list of `DependencyTree`.

    Raises:
        ValueError: naming `path:line` for a malformed line, a HEAD that is
            not an integer, or a sentence whose heads are not a tree.

    Example:

    ```pycon
    >>> from keras_dlss.datasets import ud_english_ewt_path
    >>> trees = read_conllu_trees(ud_english_ewt_path("test"))
    >>> trees[0].words[:3], trees[0].heads[:3], trees[0].deprels[:3]
    (['What', 'if', 'Google'], [0, 4, 4], ['root', 'mark', 'nsubj'])
    ```
    """
    columns = tuple(columns)
    for column in columns:
        v.check_one_of("columns", column, CONLLU_COLUMNS)
    for needed in ("form", "head"):
        if needed not in columns:
            raise ValueError(
                f"Argument `columns` must contain {needed!r}. Received: columns={columns}"
            )
    extra = [c for c in columns if c not in ("form", "head")]
    index = {c: CONLLU_COLUMNS.index(c) for c in columns}
    trees = []
    for block in _sentences(path):
        words, heads, values, first = [], [], {c: [] for c in extra}, None
        for number, line in block:
            if line.startswith("#"):
                continue
            first = first or number
            fields = line.split("\t")
            if len(fields) != 10:
                raise ValueError(
                    f"{path}:{number}: expected 10 tab-separated CoNLL-U columns, got "
                    f"{len(fields)}. Received: line={line!r}"
                )
            if "-" in fields[0] or "." in fields[0]:
                continue
            if not fields[index["head"]].isdigit():
                raise ValueError(
                    f"{path}:{number}: HEAD must be an integer. Received: line={line!r}"
                )
            words.append(fields[index["form"]])
            heads.append(int(fields[index["head"]]))
            for c in extra:
                values[c].append(fields[index[c]])
        if not words:
            continue
        try:
            check_heads(heads, "heads", single_root=single_root)
        except ValueError as error:
            raise ValueError(f"{path}:{first}: sentence is not a tree. {error}") from None
        if projective_only and not is_projective(heads):
            continue
        trees.append(DependencyTree(words, heads, values))
    return trees
