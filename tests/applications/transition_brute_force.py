"""Brute-force references for the transition-system tests (shared by the oracle tests)."""

import copy
import itertools

from keras_dlss.datasets import check_heads, is_projective


def projective_trees(n):
    """Every projective, single-rooted head array of `n` words (ids 1..n, 0 is the root)."""
    trees = []
    for heads in itertools.product(range(n + 1), repeat=n):
        try:
            check_heads(heads)
        except ValueError:
            continue
        if is_projective(heads):
            trees.append(list(heads))
    return trees


def best_reachable_loss(config, gold, memo=None):
    """Fewest wrong heads over every action sequence that completes `config` (memoized)."""
    memo = {} if memo is None else memo
    key = (tuple(config.stack), tuple(config.buffer), tuple(config.heads))
    if key not in memo:
        if config.is_terminal():
            memo[key] = sum(h != g for h, g in zip(config.heads, gold))
        else:
            losses = []
            for action in config.legal():
                child = copy.deepcopy(config)
                child.apply(action)
                losses.append(best_reachable_loss(child, gold, memo))
            memo[key] = min(losses)
    return memo[key]
