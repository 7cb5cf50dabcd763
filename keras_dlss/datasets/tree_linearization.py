"""Dependency trees <-> bracketed token strings, for linearized seq2seq parsing.

Vinyals et al. 2015 ("Grammar as a Foreign Language",
https://arxiv.org/abs/1412.7449) parse by translating a sentence into its tree
written as a bracketed string, with words replaced by a placeholder `XX` since
they are given. For a dependency tree, each word's subtree is written as
`(label` + its left dependents' subtrees + `XX` + its right dependents'
subtrees + `)`. For a projective tree the `XX` placeholders appear in sentence
order, so the i-th `XX` is word i and `delinearize` recovers every head (and
label) exactly. A decoder can emit strings that are no tree at all
(unbalanced brackets, a bracket with no or two `XX`, the wrong number of
words); `delinearize` returns None for those, which is how the ill-formed
output rate of linearized parsing is measured.
"""

from keras_dlss.datasets.dependency_trees import check_heads, is_projective

WORD = "XX"
CLOSE = ")"


def linearize_tree(heads, labels=None):
    """The bracketed token string of a projective dependency tree.

    Args:
        heads: sequence of int. `heads[i]` is the 1-based head of word `i + 1`,
            0 = root (one root).
        labels: optional sequence of str, the relation of each word (DEPREL);
            brackets are `(label`, or a bare `(` without labels.

    Returns:
        list of str tokens: `"(label"` opens a word's subtree, `"XX"` is the
        word itself and `")"` closes the subtree.

    Raises:
        ValueError: naming `heads` when it is not a projective tree, or
            `labels` when its length differs.

    Example:

    ```python
    from keras_dlss.datasets.tree_linearization import delinearize, linearize_tree

    tokens = linearize_tree([2, 0, 2], ["nsubj", "root", "obj"])
    # ['(root', '(nsubj', 'XX', ')', 'XX', '(obj', 'XX', ')', ')']
    delinearize(tokens, 3)  # ([2, 0, 2], ['nsubj', 'root', 'obj'])
    ```

    References:
        - [Vinyals et al., 2015](https://arxiv.org/abs/1412.7449)
    """
    heads = check_heads(heads).tolist()
    if not is_projective(heads):
        raise ValueError(
            "Argument `heads` must be a projective tree to be linearized in word order. "
            f"Received: heads={heads}"
        )
    n = len(heads)
    if labels is not None and len(labels) != n:
        raise ValueError(
            f"Argument `labels` must have one label per word ({n}). Received: {len(labels)} labels"
        )
    children = [[] for _ in range(n + 1)]
    for i, h in enumerate(heads, 1):
        children[h].append(i)
    tokens = []
    stack = [(children[0][0], 0)]
    # Iterative pre-order: a frame is (word, stage) where stage walks its children.
    while stack:
        word, stage = stack.pop()
        kids = children[word]
        if stage == 0:
            tokens.append("(" + (labels[word - 1] if labels is not None else ""))
        left = [k for k in kids if k < word]
        right = [k for k in kids if k > word]
        order = left + [None] + right
        if stage == len(order):
            tokens.append(CLOSE)
            continue
        stack.append((word, stage + 1))
        if order[stage] is None:
            tokens.append(WORD)
        else:
            stack.append((order[stage], 0))
    return tokens


def delinearize(tokens, num_words):
    """Heads and labels from a bracketed token string, or None if it is not a tree.

    Args:
        tokens: sequence of str, as written by `linearize_tree` (or a model).
        num_words: int. Words in the sentence.

    Returns:
        `(heads, labels)` (lists; labels are `""` for bare brackets), or None
        when `tokens` is ill-formed: an unknown token, unbalanced brackets, a
        bracket with other than one `XX`, more than one top-level bracket,
        or a number of `XX` other than `num_words`.

    Example:

    ```python
    from keras_dlss.datasets.tree_linearization import delinearize

    delinearize(["(root", "XX", "(obj", "XX", ")", ")"], 2)  # ([0, 1], ['root', 'obj'])
    delinearize(["(root", "XX", "(obj", "XX", ")"], 2)  # None: unbalanced
    ```
    """
    heads, labels = [0] * num_words, [""] * num_words
    stack = []  # open brackets: [label, word index or None, parent bracket index]
    brackets, word, roots = [], 0, 0
    for token in tokens:
        if token.startswith("(") and token != CLOSE:
            parent = stack[-1] if stack else None
            roots += parent is None
            brackets.append([token[1:], None, parent])
            stack.append(len(brackets) - 1)
        elif token == WORD:
            if not stack or brackets[stack[-1]][1] is not None or word >= num_words:
                return None
            brackets[stack[-1]][1] = word
            word += 1
        elif token == CLOSE:
            if not stack or brackets[stack[-1]][1] is None:
                return None
            stack.pop()
        else:
            return None
    if stack or roots != 1 or word != num_words:
        return None
    for label, index, parent in brackets:
        heads[index] = 0 if parent is None else brackets[parent][1] + 1
        labels[index] = label
    return heads, labels
