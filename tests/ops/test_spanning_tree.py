"""Chu-Liu/Edmonds and Eisner against brute-force enumeration of every tree (n <= 6)."""

import numpy as np
import pytest

from keras_dlss.datasets.dependency_trees import check_heads, is_projective
from keras_dlss.ops import chu_liu_edmonds, eisner, maximum_spanning_tree


def _all_trees(n, projective):
    """Every single-root head array of n words (brute force over all (n + 1)^n assignments)."""
    grid = np.meshgrid(*[np.arange(n + 1)] * n, indexing="ij")
    heads = np.stack(grid, -1).reshape(-1, n)
    heads = heads[(heads != np.arange(1, n + 1)).all(1) & ((heads == 0).sum(1) == 1)]
    # Follow head pointers n times: only acyclic assignments reach the root (0).
    lookup = np.concatenate([np.zeros((len(heads), 1), heads.dtype), heads], 1)
    node = np.tile(np.arange(1, n + 1), (len(heads), 1))
    for _ in range(n):
        node = np.take_along_axis(lookup, node, 1)
    heads = heads[(node == 0).all(1)]
    assert len(heads) == n ** (n - 1)  # Cayley: single-root trees of n words
    if projective:
        heads = heads[[is_projective(h) for h in heads]]
    return heads


_TREES = {(n, p): _all_trees(n, p) for n in range(1, 7) for p in (False, True)}


def _best(scores, projective):
    trees = _TREES[(len(scores) - 1, projective)]
    words = np.arange(1, len(scores))
    totals = scores[words, trees].sum(-1)
    return totals.max(), trees[totals.argmax()]


@pytest.mark.parametrize("projective", [False, True])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_decoders_find_the_brute_force_optimum(n, projective):
    rng = np.random.default_rng(n)
    decode = eisner if projective else chu_liu_edmonds
    for _ in range(12 if n < 6 else 4):
        scores = rng.normal(size=(n + 1, n + 1)) * rng.choice([0.5, 3.0])
        heads = decode(scores)
        best, _ = _best(scores, projective)
        check_heads(heads)
        assert projective is False or is_projective(heads)
        np.testing.assert_allclose(scores[np.arange(1, n + 1), heads].sum(), best, rtol=1e-9)


def test_root_penalty_forces_one_root_even_when_root_arcs_dominate():
    scores = np.zeros((5, 5))
    scores[1:, 0] = 10.0  # every word prefers the root
    for decode in (chu_liu_edmonds, eisner):
        assert int((decode(scores) == 0).sum()) == 1


def test_batched_respects_lengths_and_padding():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(3, 7, 7)).astype("float32")
    for projective in (False, True):
        heads = maximum_spanning_tree(scores, lengths=[6, 3, 1], projective=projective)
        assert heads.dtype == np.int32 and heads.shape == (3, 7)
        assert (heads[:, 0] == 0).all() and (heads[1, 4:] == 0).all() and heads[2, 1] == 0
        decode = eisner if projective else chu_liu_edmonds
        np.testing.assert_array_equal(heads[1, 1:4], decode(scores[1, :4, :4]))


def test_masked_arcs_are_never_chosen():
    scores = np.random.default_rng(1).normal(size=(5, 5))
    scores[3, 1] = -np.inf
    scores[2, 0] = -np.inf
    for decode in (chu_liu_edmonds, eisner):
        heads = decode(scores)
        assert heads[2] != 1 and heads[1] != 0


@pytest.mark.parametrize(
    "fn,kwargs,arg",
    [
        (chu_liu_edmonds, {"scores": np.zeros((3, 4))}, "scores"),
        (eisner, {"scores": np.full((3, 3), np.nan)}, "scores"),
        (maximum_spanning_tree, {"scores": np.zeros((3, 3))}, "scores"),
        (maximum_spanning_tree, {"scores": np.zeros((1, 3, 3)), "lengths": [3]}, "lengths"),
    ],
)
def test_bad_input(fn, kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}`.*Received"):
        fn(**kwargs)
