"""CoNLL-U / CoNLL readers and the Vocabulary."""

import bz2
import gzip
import lzma

import numpy as np
import pytest

from keras_dlss.datasets import Vocabulary, encode_characters, read_conll, read_conllu

CONLLU = """# sent_id = 1
# text = I can't go.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tcan't\t_\t_\t_\t_\t_\t_\t_\t_
2\tca\tcan\tAUX\tMD\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_
4.1\tgone\t_\t_\t_\t_\t_\t_\t_\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_
"""

CONLL = """-DOCSTART- -X- O O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_read_conllu_skips_comments_ranges_and_empty_nodes(tmp_path):
    path = _write(tmp_path, "a.conllu", CONLLU)
    words, tags = read_conllu(path)
    assert words == [["I", "ca", "n't", "go", "."], ["Hi"]]
    assert tags == [["PRON", "AUX", "PART", "VERB", "PUNCT"], ["INTJ"]]
    _, xpos = read_conllu(path, column="xpos")
    assert xpos[0] == ["PRP", "MD", "RB", "VB", "."]


@pytest.mark.parametrize("module, suffix", [(gzip, ".gz"), (lzma, ".xz"), (bz2, ".bz2")])
def test_readers_open_compressed_files(tmp_path, module, suffix):
    for name, text, reader in (("a.conllu", CONLLU, read_conllu), ("a.txt", CONLL, read_conll)):
        path = tmp_path / (name + suffix)
        with module.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
        assert reader(str(path)) == reader(_write(tmp_path, name, text))


def test_read_conllu_reports_file_and_line(tmp_path):
    path = _write(tmp_path, "bad.conllu", CONLLU.replace("4\tgo\tgo\tVERB", "4 go go VERB"))
    with pytest.raises(ValueError, match=r"bad\.conllu:7: expected 10 tab-separated"):
        read_conllu(path)
    with pytest.raises(ValueError, match="`column` must be one of"):
        read_conllu(path, column="pos")


def test_read_conll_bio(tmp_path):
    path = _write(tmp_path, "a.txt", CONLL)
    words, tags = read_conll(path, scheme="BIO")
    assert words == [["EU", "rejects", "German"], ["Peter", "Blackburn"]]
    assert tags == [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"]]
    _, chunks = read_conll(path, tag_column=2)
    assert chunks[1] == ["B-NP", "I-NP"]


def test_read_conll_errors_name_the_line(tmp_path):
    path = _write(tmp_path, "b.txt", CONLL.replace("Peter NNP B-NP B-PER", "Peter NNP B-PER"))
    with pytest.raises(
        ValueError, match=r"b\.txt:7: expected 4 whitespace-separated columns, got 3"
    ):
        read_conll(path)
    path = _write(tmp_path, "c.txt", CONLL.replace("I-PER", "X-PER"))
    with pytest.raises(ValueError, match=r"c\.txt:8: tag 'X-PER' is not a BIO tag"):
        read_conll(path, scheme="BIO")


def test_vocabulary_oov_padding_and_round_trip():
    vocab = Vocabulary.build([["the", "cat"], ["the", "dog"], ["a"]], min_count=1)
    assert vocab.tokens[:3] == ["<pad>", "<unk>", "the"]
    ids = vocab.encode([["the", "zebra"], ["cat"]], max_length=3)
    np.testing.assert_array_equal(ids, [[2, 1, 0], [vocab.index("cat"), 0, 0]])
    assert vocab.decode(ids, lengths=[2, 1]) == [["the", "<unk>"], ["cat"]]
    rare = Vocabulary.build([["the", "cat"], ["the"]], min_count=2)
    assert "cat" not in rare and rare.index("cat") == 1
    restored = Vocabulary(**vocab.get_config())
    assert restored.tokens == vocab.tokens
    lower = Vocabulary.build([["The"]], lowercase=True)
    assert lower.index("THE") == 2


def test_tag_vocabulary_without_oov_raises():
    tags = Vocabulary.build([["O", "B-PER"]], pad=None, unk=None)
    assert tags.tokens == ["B-PER", "O"]
    with pytest.raises(ValueError, match="Token 'I-PER' is not in the vocabulary"):
        tags.encode([["I-PER"]])
    with pytest.raises(ValueError, match="`min_count` must be an integer >= 1"):
        Vocabulary.build([["a"]], min_count=0)


def test_encode_characters():
    chars = Vocabulary.build([list("abc")])
    out = encode_characters([["ab", "cabc"]], chars, max_length=3, max_word_length=3)
    assert out.shape == (1, 3, 3)
    a, b, c = chars.index("a"), chars.index("b"), chars.index("c")
    np.testing.assert_array_equal(out[0], [[a, b, 0], [c, a, b], [0, 0, 0]])
