"""Maximum spanning tree decoding of arc scores: Chu-Liu/Edmonds and Eisner.

A graph-based parser scores every possible arc; the parse is the
highest-scoring *tree*. `chu_liu_edmonds` finds it among all trees
(non-projective; Chu & Liu 1965, Edmonds 1967, recursive cycle contraction,
O(n^3) here), `eisner` among projective trees (Eisner 1996, O(n^3) dynamic
programming over spans). Both return trees with exactly one word attached to
the root, as UD requires: every arc leaving the root is penalized by a
constant larger than any difference between two trees' scores, so the best
tree under the penalty has one root arc and is the best such tree under the
original scores (the reduction in Zmigrod et al. 2020), without running the
decoder once per candidate root child.

This is NumPy on purpose, run after the network (at prediction time only):
Chu-Liu/Edmonds contracts cycles into graphs of data-dependent size, which
static-shape `keras.ops` cannot express without an O(n) loop of O(n^2)
masked steps per contraction; Eisner's span table is sequential in the span
width. The scores come from the `keras.ops` biaffine scorer
(`keras_dlss.layers.Biaffine`); training never needs the decoder.

Convention: `scores[d, h]` is the score of the arc from head `h` to
dependent `d`; position 0 is the artificial root, words are `1..n`.

References:
    - Chu & Liu, "On the shortest arborescence of a directed graph", 1965;
      Edmonds, "Optimum branchings", 1967.
    - Eisner, "Three New Probabilistic Models for Dependency Parsing", COLING 1996.
    - Zmigrod, Vieira & Cotterell, "Please Mind the Root: Decoding Arborescences
      for Dependency Parsing", EMNLP 2020.
"""

import numpy as np

from keras_dlss import _validation as v


def _check_square(name, scores):
    scores = np.asarray(scores, dtype="float64")
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1] or scores.shape[0] < 2:
        raise ValueError(
            f"Argument `{name}` must be a square [n + 1, n + 1] matrix with n >= 1 "
            f"(row 0 and column 0 are the root). Received: {name}.shape={scores.shape}"
        )
    if np.isnan(scores).any() or np.isposinf(scores).any():
        raise ValueError(
            f"Argument `{name}` must not hold NaN or +inf. Received: {name} with NaN or +inf"
        )
    return scores


def _root_penalized(scores):
    """Scores with self-loops and arcs into the root removed and root arcs penalized."""
    s = scores.copy()
    finite = s[np.isfinite(s)]
    span = float(finite.max() - finite.min()) if finite.size else 0.0
    np.fill_diagonal(s, -np.inf)
    s[0, :] = -np.inf
    s[0, 0] = 0.0
    # Any two trees differ by less than n * span: one root arc more costs more than that.
    s[1:, 0] -= (len(s) * span + 1.0) * 2.0
    return s


def _find_cycle(tree):
    """Nodes of one cycle of the head function `tree` (tree[0] = 0), or None."""
    n = len(tree)
    state = np.zeros(n, dtype="int8")  # 0 unseen, 1 on the current path, 2 done
    state[0] = 2
    for start in range(1, n):
        path, node = [], start
        while state[node] == 0:
            state[node] = 1
            path.append(node)
            node = tree[node]
        if state[node] == 1:
            return np.array(path[path.index(node) :])
        state[path] = 2
    return None


def _chu_liu_edmonds(s):
    tree = s.argmax(-1)
    cycle = _find_cycle(tree)
    if cycle is None:
        return tree
    in_cycle = np.zeros(len(s), bool)
    in_cycle[cycle] = True
    noncycle = np.nonzero(~in_cycle)[0]
    cycle_scores = s[cycle, tree[cycle]]
    # Arcs out of the cycle: the best cycle member as head of each outside word.
    s_dep = s[noncycle][:, cycle]
    deps = s_dep.argmax(1)
    # Arcs into the cycle: entering at member c breaks c's cycle arc.
    s_head = s[cycle][:, noncycle] - cycle_scores[:, None] + cycle_scores.sum()
    heads = s_head.argmax(0)
    contracted = np.concatenate([noncycle, [-1]])
    t = s[contracted][:, contracted]
    t[:-1, -1] = s_dep[np.arange(len(deps)), deps]
    t[-1, :-1] = s_head[heads, np.arange(len(heads))]
    t[-1, -1] = -np.inf
    y = _chu_liu_edmonds(t)
    y, y_head = y[:-1], y[-1]
    outside = y < len(y)
    tree[noncycle[outside]] = noncycle[y[outside]]
    tree[noncycle[~outside]] = cycle[deps[~outside]]
    entry = heads[y_head]
    tree[cycle[entry]] = noncycle[y_head]
    return tree


def chu_liu_edmonds(scores):
    """The highest-scoring dependency tree (non-projective), one word attached to the root.

    Args:
        scores: `[n + 1, n + 1]` float array; `scores[d, h]` scores head `h` of
            word `d`, position 0 is the root (row 0 is ignored).

    Returns:
        int array of `n` heads: entry `i` is the head of word `i + 1` (0 = root).

    Example:

    ```pycon
    >>> scores = np.array([[0, 0, 0], [1, 0, 5], [4, 2, 0]], "float32")
    >>> chu_liu_edmonds(scores).tolist()
    [2, 0]
    ```
    """
    s = _root_penalized(_check_square("scores", scores))
    return _chu_liu_edmonds(s)[1:].astype("int32")


def eisner(scores):
    """The highest-scoring projective dependency tree, one word attached to the root.

    Args:
        scores: `[n + 1, n + 1]` float array; `scores[d, h]` scores head `h` of
            word `d`, position 0 is the root.

    Returns:
        int array of `n` heads: entry `i` is the head of word `i + 1` (0 = root).

    Example:

    ```pycon
    >>> scores = np.array([[0, 0, 0], [1, 0, 5], [4, 2, 0]], "float32")
    >>> eisner(scores).tolist()
    [2, 0]
    ```
    """
    w = _root_penalized(_check_square("scores", scores)).T  # w[h, d]
    n1 = len(w)
    # complete[s, t, 0]: span s..t headed at t; [.., 1]: headed at s. incomplete: arc s-t made.
    complete = np.full((n1, n1, 2), -np.inf)
    incomplete = np.full((n1, n1, 2), -np.inf)
    complete[np.arange(n1), np.arange(n1)] = 0.0
    back_c = np.zeros((n1, n1, 2), "int64")
    back_i = np.zeros((n1, n1, 2), "int64")
    for k in range(1, n1):
        s = np.arange(n1 - k)
        t = s + k
        r = s[:, None] + np.arange(k)[None, :]  # split points s..t-1
        vals = complete[s[:, None], r, 1] + complete[r + 1, t[:, None], 0]
        best = vals.argmax(1)
        top = vals[s, best]
        incomplete[s, t, 0] = top + w[t, s]
        incomplete[s, t, 1] = top + w[s, t]
        back_i[s, t, 0] = back_i[s, t, 1] = r[s, best]
        left = complete[s[:, None], r, 0] + incomplete[r, t[:, None], 0]
        best = left.argmax(1)
        complete[s, t, 0] = left[s, best]
        back_c[s, t, 0] = r[s, best]
        r1 = r + 1  # split points s+1..t
        right = incomplete[s[:, None], r1, 1] + complete[r1, t[:, None], 1]
        best = right.argmax(1)
        complete[s, t, 1] = right[s, best]
        back_c[s, t, 1] = r1[s, best]
    heads = np.zeros(n1, "int32")
    stack = [(0, n1 - 1, 1, True)]
    while stack:
        s, t, direction, is_complete = stack.pop()
        if s == t:
            continue
        if is_complete:
            r = back_c[s, t, direction]
            if direction == 0:
                stack += [(s, r, 0, True), (r, t, 0, False)]
            else:
                stack += [(s, r, 1, False), (r, t, 1, True)]
        else:
            r = back_i[s, t, direction]
            if direction == 0:
                heads[s] = t
            else:
                heads[t] = s
            stack += [(s, r, 1, True), (r + 1, t, 0, True)]
    return heads[1:]


def maximum_spanning_tree(scores, lengths=None, projective=False):
    """Batched tree decoding of arc scores, e.g. a biaffine parser's output.

    Args:
        scores: `[B, N, N]` float array (a NumPy array or any tensor);
            `scores[b, d, h]` scores head `h` of word `d`, position 0 is the root.
        lengths: optional `[B]` ints: sentence `b` has words `1..lengths[b]`
            (the rest is padding). Defaults to `N - 1` for every sentence.
        projective: bool. Eisner (projective trees) instead of
            Chu-Liu/Edmonds. Defaults to False.

    Returns:
        `[B, N]` int32 heads aligned with the positions: entry 0 and padding are 0.

    Example:

    ```pycon
    >>> scores = np.random.default_rng(0).normal(size=(2, 5, 5))
    >>> heads = maximum_spanning_tree(scores, lengths=[4, 2])
    >>> heads.shape, int((heads[1, 1:3] == 0).sum())
    ((2, 5), 1)
    ```
    """
    arr = np.asarray(scores, dtype="float64")
    if arr.ndim != 3 or arr.shape[1] != arr.shape[2] or arr.shape[1] < 2:
        raise ValueError(
            f"Argument `scores` must have shape [B, N, N] with N >= 2. Received: scores.shape={arr.shape}"
        )
    batch, n = arr.shape[0], arr.shape[1]
    if lengths is None:
        lengths = np.full(batch, n - 1)
    lengths = np.asarray(lengths).reshape(-1)
    if lengths.shape != (batch,) or lengths.min(initial=1) < 1 or lengths.max(initial=1) > n - 1:
        raise ValueError(
            f"Argument `lengths` must hold {batch} ints in [1, {n - 1}]. "
            f"Received: lengths={lengths.tolist()}"
        )
    decode = eisner if projective else chu_liu_edmonds
    v.check_finite("scores", np.where(np.isneginf(arr), 0.0, arr))
    heads = np.zeros((batch, n), "int32")
    for b, length in enumerate(lengths):
        m = int(length) + 1
        heads[b, 1:m] = decode(arr[b, :m, :m])
    return heads
