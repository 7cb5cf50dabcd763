"""Transition systems: the static oracle rebuilds every projective EWT tree; the dynamic oracle is optimal."""

import numpy as np
import pytest
from transition_brute_force import best_reachable_loss, projective_trees

from keras_dlss.applications.transition_systems import (
    LEFT_ARC,
    RIGHT_ARC,
    SHIFT,
    Configuration,
    action_costs,
    apply_transitions,
    dynamic_oracle,
    static_oracle,
)
from keras_dlss.datasets import is_projective, read_conllu_trees, ud_english_ewt_path


@pytest.fixture(scope="module")
def ewt_trees():
    trees = []
    for split in ("dev", "test"):
        trees += [t.heads for t in read_conllu_trees(ud_english_ewt_path(split))]
    return trees


@pytest.mark.parametrize("system", ["arc-standard", "arc-hybrid"])
def test_static_oracle_rebuilds_every_projective_ewt_tree(ewt_trees, system):
    projective = [h for h in ewt_trees if is_projective(h)]
    assert len(projective) == 1970 + 1051
    for heads in projective:
        actions = static_oracle(heads, system)
        assert len(actions) == 2 * len(heads)
        assert apply_transitions(len(heads), actions, system) == heads


@pytest.mark.parametrize("system", ["arc-standard", "arc-hybrid"])
def test_non_projective_tree_is_rejected(ewt_trees, system):
    heads = next(h for h in ewt_trees if not is_projective(h))
    with pytest.raises(ValueError, match="`heads`.*non-projective.*Received"):
        static_oracle(heads, system)


def test_illegal_action_and_single_root():
    c = Configuration(2)
    with pytest.raises(ValueError, match="`action`.*Received"):
        c.apply(LEFT_ARC)
    c.apply(SHIFT)
    assert RIGHT_ARC not in c.legal()  # a word goes to the root only when the buffer is empty


def test_dynamic_oracle_costs_are_exact_after_random_mistakes():
    rng = np.random.default_rng(0)
    for n in (3, 4, 5):
        trees = projective_trees(n)
        for gold in [trees[i] for i in rng.choice(len(trees), 8)]:
            config = Configuration(n, "arc-hybrid")
            lost = 0
            for _ in range(rng.integers(0, 2 * n)):  # wander off the gold path
                if config.is_terminal():
                    break
                action = int(rng.choice(config.legal()))
                before = best_reachable_loss(config, gold)
                costs = action_costs(config, gold)
                config.apply(action)
                # The cost is exactly the loss the action adds to the best reachable tree.
                assert best_reachable_loss(config, gold) - before == costs[action]
                lost += costs[action]
            while not config.is_terminal():
                config.apply(dynamic_oracle(config, gold)[0])
            assert sum(h != g for h, g in zip(config.heads, gold)) == lost


def test_dynamic_oracle_from_the_start_rebuilds_gold(ewt_trees):
    for gold in [h for h in ewt_trees if is_projective(h)][:300]:
        config = Configuration(len(gold), "arc-hybrid")
        while not config.is_terminal():
            config.apply(dynamic_oracle(config, gold)[0])
        assert config.heads == gold


def test_action_costs_needs_arc_hybrid():
    with pytest.raises(ValueError, match="`config`.*Received"):
        action_costs(Configuration(2), [2, 0])
