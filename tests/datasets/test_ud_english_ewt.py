"""The UD English EWT slice embedded in the package: contents, validity, license."""

import os

import pytest

from keras_dlss.datasets import load_ud_english_ewt, read_conllu, ud_english_ewt_path
from keras_dlss.datasets.conll import open_text


def test_splits_sizes_and_tags():
    words, tags = load_ud_english_ewt("dev")
    assert len(words) == 2001 and sum(map(len, words)) == 25147
    assert words[0][:3] == ["From", "the", "AP"] and tags[0][:3] == ["ADP", "DET", "PROPN"]
    test_words, test_tags = load_ud_english_ewt("test")
    assert len(test_words) == 1068 and sum(map(len, test_words)) == 12572
    assert len({t for s in tags for t in s}) == len({t for s in test_tags for t in s}) == 17
    assert all(len(w) == len(t) for w, t in zip(words, tags))
    _, xpos = load_ud_english_ewt("dev", column="xpos", max_sentences=1)
    assert xpos == [["IN", "DT", "NNP", "VBZ", "DT", "NN", ":"]]
    assert load_ud_english_ewt("test", max_sentences=5)[0] == test_words[:5]


def _sentences(path):
    sentence = []
    with open_text(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                sentence.append(line)
            elif sentence:
                yield sentence
                sentence = []
    if sentence:
        yield sentence


@pytest.mark.parametrize("split", ["dev", "test"])
def test_files_are_valid_conllu_trees_with_the_kept_columns(split):
    for sentence in _sentences(ud_english_ewt_path(split)):
        assert any(line.startswith("# sent_id = ") for line in sentence)
        assert any(line.startswith("# text = ") for line in sentence)
        rows = [line.split("\t") for line in sentence if not line.startswith("#")]
        assert all(len(r) == 10 for r in rows)
        words = [r for r in rows if r[0].isdigit()]
        assert [int(r[0]) for r in words] == list(range(1, len(words) + 1))
        heads = [int(r[6]) for r in words]
        assert heads.count(0) == 1 and all(0 <= h <= len(words) for h in heads)
        assert all(r[3] != "_" and r[4] != "_" and r[7] != "_" for r in words)
        assert all(r[2] == r[5] == r[8] == r[9] == "_" for r in words)  # LEMMA FEATS DEPS MISC


def test_license_and_attribution_ship_beside_the_data():
    folder = os.path.dirname(ud_english_ewt_path())
    assert (
        os.path.getsize(ud_english_ewt_path("dev")) + os.path.getsize(ud_english_ewt_path("test"))
        < 300_000
    )
    with open(os.path.join(folder, "LICENSE.txt"), encoding="utf-8") as f:
        assert f.readline().strip() == "Attribution-ShareAlike 4.0 International"
    with open(os.path.join(folder, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    for needed in ("CC BY-SA 4.0", "ShareAlike", "Silveira", "every second document", "LEMMA"):
        assert needed in readme, needed
    words, _ = read_conllu(ud_english_ewt_path("test"))  # the generic reader opens .xz
    assert len(words) == 1068


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="`split` must be one of"):
        load_ud_english_ewt("train")
    with pytest.raises(ValueError, match="`column` must be one of"):
        load_ud_english_ewt(column="lemma")
    with pytest.raises(ValueError, match="`max_sentences` must be an integer >= 1"):
        load_ud_english_ewt(max_sentences=0)
