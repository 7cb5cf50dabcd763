"""UAS/LAS on hand-made parses, as the CoNLL 2018 script and the CoNLL-X convention define them."""

import pytest

from keras_dlss.metrics import attachment_scores

# "John saw Mary ." gold: saw is the root; John nsubj, Mary obj, "." punct of saw.
GOLD_HEADS = [[2, 0, 2, 2]]
GOLD_RELS = [["nsubj", "root", "obj", "punct"]]
UPOS = [["PROPN", "VERB", "PROPN", "PUNCT"]]


def _scores(heads, rels):
    return attachment_scores(GOLD_HEADS, GOLD_RELS, heads, rels, upos=UPOS)


def test_perfect_parse():
    s = _scores(GOLD_HEADS, GOLD_RELS)
    assert s["uas"] == s["las"] == s["uas_no_punct"] == s["las_no_punct"] == 1.0
    assert s["words"] == 4 and s["words_no_punct"] == 3


def test_wrong_label_costs_las_only_and_punctuation_counts_in_conll18():
    s = _scores([[2, 0, 2, 3]], [["nsubj", "root", "iobj", "punct"]])
    # Punctuation head wrong: counted by CoNLL 2018 (all words), not by the no-punct scores.
    assert s["uas"] == pytest.approx(3 / 4) and s["las"] == pytest.approx(2 / 4)
    assert s["uas_no_punct"] == pytest.approx(3 / 3) and s["las_no_punct"] == pytest.approx(2 / 3)


def test_subtypes_are_ignored_as_in_conll18():
    s = _scores(GOLD_HEADS, [["nsubj:pass", "root", "obj", "punct"]])
    assert s["las"] == 1.0


def test_right_label_on_wrong_head_is_not_labeled_attachment():
    s = _scores([[3, 0, 2, 2]], GOLD_RELS)
    assert s["uas"] == pytest.approx(3 / 4) and s["las"] == pytest.approx(3 / 4)


def test_micro_average_over_sentences_and_no_upos():
    s = attachment_scores(
        [[2, 0], [0]], [["a", "root"], ["root"]], [[0, 0], [0]], [["a", "root"], ["x"]]
    )
    assert s["uas"] == pytest.approx(2 / 3) and s["las"] == pytest.approx(1 / 3)
    assert "uas_no_punct" not in s


def test_bad_input():
    with pytest.raises(ValueError, match="`pred_rels`.*Received"):
        attachment_scores(GOLD_HEADS, GOLD_RELS, GOLD_HEADS, [["a"]])
