"""CoNLL-U trees: multi-word tokens and empty nodes, head validation, projectivity."""

import itertools

import numpy as np
import pytest

from keras_dlss.datasets import (
    check_heads,
    is_projective,
    read_conllu,
    read_conllu_trees,
    ud_english_ewt_path,
)

CONLLU = """# sent_id = 1
# text = I don't know.
1\tI\tI\tPRON\tPRP\t_\t4\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\t_
4.1\tknows\t_\t_\t_\t_\t_\t_\t4:conj\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

1\tGo\tgo\tVERB\tVB\t_\t0\troot\t_\t_
2\t!\t!\tPUNCT\t.\t_\t1\tpunct\t_\t_
"""


def _write(tmp_path, text):
    path = tmp_path / "tiny.conllu"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_reads_syntactic_words_and_skips_multiword_tokens_and_empty_nodes(tmp_path):
    trees = read_conllu_trees(_write(tmp_path, CONLLU))
    assert [t.words for t in trees] == [["I", "do", "n't", "know", "."], ["Go", "!"]]
    assert trees[0].heads == [4, 4, 4, 0, 4]
    assert trees[0].deprels == ["nsubj", "aux", "advmod", "root", "punct"]
    assert trees[0].upos == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    words, _ = read_conllu(_write(tmp_path, CONLLU))  # the tagger's reader agrees
    assert words == [t.words for t in trees]


def test_cyclic_tree_in_a_file_names_the_line(tmp_path):
    bad = CONLLU.replace("1\tGo\tgo\tVERB\tVB\t_\t0", "1\tGo\tgo\tVERB\tVB\t_\t2")
    with pytest.raises(ValueError, match=r"tiny.conllu:11: sentence is not a tree.*`heads`"):
        read_conllu_trees(_write(tmp_path, bad))


@pytest.mark.parametrize(
    "heads,match",
    [
        ([2, 3, 2, 0], "cycle"),
        ([0, 0, 2], "exactly one word"),
        ([2, 0, 4], r"\[0, 3\]"),
        ([1, 0], "its own head"),
        ([2, -1, 0], r"\[0, 3\]"),
        ([], "non-empty"),
    ],
)
def test_check_heads_rejects_non_trees(heads, match):
    with pytest.raises(ValueError, match=f"`heads`.*{match}.*|`heads`.*Received"):
        check_heads(heads)


def test_check_heads_multiple_roots_allowed_on_request():
    assert check_heads([0, 0, 2], single_root=False).tolist() == [0, 0, 2]


def _crossing(heads):
    arcs = [tuple(sorted((h, d))) for d, h in enumerate(heads, start=1)]
    return any(a < c < b < d for (a, b), (c, d) in itertools.permutations(arcs, 2))


def test_is_projective_against_brute_force_over_all_trees_of_five_words():
    count = 0
    for heads in itertools.product(range(6), repeat=5):
        try:
            check_heads(heads)
        except ValueError:
            continue
        count += 1
        assert is_projective(heads) == (not _crossing(heads))
    assert count == 5**4  # Cayley: n^(n-1) single-root trees of n words


def test_embedded_ewt_trees_and_projective_filter():
    trees = read_conllu_trees(ud_english_ewt_path("dev"))
    projective = read_conllu_trees(ud_english_ewt_path("dev"), projective_only=True)
    assert len(trees) == 2001 and len(projective) == 1970
    assert all(is_projective(t.heads) for t in projective)
    assert sum(len(t) for t in trees) == 25147
    assert np.all([h == 0 for t in trees for h in t.heads if h == 0])


def test_bad_columns():
    with pytest.raises(ValueError, match="`columns`.*Received"):
        read_conllu_trees(ud_english_ewt_path("dev"), columns=("form", "upos"))
    with pytest.raises(ValueError, match="`columns`.*Received"):
        read_conllu_trees(ud_english_ewt_path("dev"), columns=("form", "head", "tag"))
