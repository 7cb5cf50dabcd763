"""Linearized dependency trees round-trip on the embedded EWT slice; ill-formed strings are None."""

import pytest

from keras_dlss.datasets import is_projective, read_conllu_trees
from keras_dlss.datasets.tree_linearization import delinearize, linearize_tree
from keras_dlss.datasets.ud_english_ewt import ud_english_ewt_path


def test_round_trip_on_every_projective_ewt_tree():
    trees = read_conllu_trees(ud_english_ewt_path("dev"))
    projective = [t for t in trees if is_projective(t.heads)]
    assert len(projective) > 0.9 * len(trees)
    for tree in projective:
        tokens = linearize_tree(tree.heads, tree.deprels)
        assert tokens.count("XX") == len(tree)
        assert delinearize(tokens, len(tree)) == (list(tree.heads), list(tree.deprels))


def test_hand_made_example_and_ill_formed_strings():
    tokens = linearize_tree([2, 0, 2], ["nsubj", "root", "obj"])
    assert tokens == ["(root", "(nsubj", "XX", ")", "XX", "(obj", "XX", ")", ")"]
    assert delinearize(["(", "XX", ")"], 1) == ([0], [""])
    for bad in (
        ["(root", "XX"],  # unbalanced
        ["(root", "XX", "XX", ")"],  # two words in one bracket
        ["(root", ")", "XX"],  # empty bracket
        ["(a", "XX", ")", "(b", "XX", ")"],  # two roots
        ["(root", "XX", ")"],  # too few words for 2
        ["(root", "YY", ")"],  # unknown token
    ):
        assert delinearize(bad, 2 if bad[-1] != "XX" or len(bad) != 2 else 1) is None, bad


def test_non_projective_and_bad_labels_raise():
    with pytest.raises(ValueError, match="`heads`"):
        linearize_tree([3, 4, 0, 3])  # 1->3 crosses 2->4
    with pytest.raises(ValueError, match="`labels`"):
        linearize_tree([0, 1], ["root"])
