"""Text classification data: TSV/CSV reader, tokenizer, word vectors, generated sets."""

import os

import numpy as np
import pytest

from keras_dlss.datasets import (
    PROBE_CATEGORIES,
    Vocabulary,
    build_vocabulary,
    embedding_matrix,
    encode_texts,
    load_word_vectors,
    negation_probe,
    read_text_classification,
    sentiment_sentences,
    tokenize_text,
)

SST = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "sst2")


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_reads_tsv_with_header_and_integer_labels(tmp_path):
    path = _write(tmp_path, "a.tsv", 'sentence\tlabel\nit \'s "great" \t1\nnot good\t0\n\n')
    texts, labels, names = read_text_classification(path)
    assert texts == ['it \'s "great"', "not good"]
    assert labels.tolist() == [1, 0] and labels.dtype == np.int32
    assert names == ["0", "1"]


def test_reads_headerless_tsv_with_label_names(tmp_path):
    path = _write(tmp_path, "b.tsv", "good film\tpos\nbad film\tneg\nok\tneutral\n")
    texts, labels, names = read_text_classification(path)
    assert names == ["neg", "neutral", "pos"] and labels.tolist() == [2, 0, 1]
    _, labels, names = read_text_classification(path, label_names=["pos", "neg", "neutral"])
    assert labels.tolist() == [0, 1, 2]


def test_reads_csv_with_quotes_and_named_columns(tmp_path):
    path = _write(
        tmp_path, "c.csv", 'id,review,sentiment\n1,"good, really",positive\n2,bad,negative\n'
    )
    texts, labels, names = read_text_classification(path, text_column="review")
    assert texts == ["good, really", "bad"] and names == ["negative", "positive"]
    assert labels.tolist() == [1, 0]


@pytest.mark.parametrize(
    "content, kwargs, argument, fragment",
    [
        ("", {}, "path", "empty"),
        ("just text\nmore text\n", {}, "label_column", "1 column"),
        ("a\t1\nb\t0\textra\n", {}, "path", "b.tsv:2"),
        ("a\t1\n", {"label_column": "label"}, "label_column", "header"),
        ("a\tx\n", {"label_names": ["y"]}, "label_names", "b.tsv:1"),
    ],
)
def test_bad_files_raise_naming_the_argument(tmp_path, content, kwargs, argument, fragment):
    path = _write(tmp_path, "b.tsv", content)
    with pytest.raises(ValueError, match=f"`{argument}`.*Received") as info:
        read_text_classification(path, **kwargs)
    assert fragment in str(info.value)


def test_missing_file_raises():
    with pytest.raises(ValueError, match="`path`.*Received"):
        read_text_classification("/nonexistent/file.tsv")


def test_tokenizer_agrees_on_raw_and_pretokenized_text():
    assert tokenize_text("It's not good, isn't it?") == tokenize_text(
        "it 's not good , is n't it ?"
    )
    assert tokenize_text("Don't") == ["do", "n't"]


def test_vocabulary_and_encoding_share_one_path():
    vocab = build_vocabulary(["a good film", "a bad film"])
    assert isinstance(vocab, Vocabulary) and vocab.tokens[:2] == ["<pad>", "<unk>"]
    ids = encode_texts(["A good ending", "film"], vocab, max_length=4)
    assert ids.shape == (2, 4) and ids[0, 2] == 1 and ids[1, 1:].tolist() == [0, 0, 0]


def test_word_vectors_with_and_without_header(tmp_path):
    rows = "good 0.5 1.0\nbad -0.5 -1.0\nGood 9 9\n"
    for text in ("3 2\n" + rows, rows):
        words, vectors = load_word_vectors(_write(tmp_path, "v.vec", text))
        assert words == ["good", "bad", "Good"]
        np.testing.assert_allclose(vectors, [[0.5, 1.0], [-0.5, -1.0], [9, 9]])
    words, _ = load_word_vectors(_write(tmp_path, "v.vec", rows), lowercase=True, max_words=5)
    assert words == ["good", "bad"]  # the first vector of "good" wins


@pytest.mark.parametrize("text", ["", "good 0.5 1.0\nbad 0.5\n", "good 0.5 x\n"])
def test_bad_word_vectors_raise(tmp_path, text):
    with pytest.raises(ValueError, match="`path`.*Received"):
        load_word_vectors(_write(tmp_path, "v.vec", text))


def test_embedding_matrix_copies_found_words_and_zeroes_padding():
    vocab = Vocabulary.build([["good", "film", "odd"]])
    words, vectors = ["GOOD", "film"], np.array([[1.0, 2.0], [3.0, 4.0]])
    matrix, coverage = embedding_matrix(vocab, words, vectors)
    assert matrix.shape == (5, 2) and coverage == pytest.approx(2 / 3)
    np.testing.assert_array_equal(matrix[0], 0.0)
    np.testing.assert_array_equal(matrix[vocab.index("good")], [1.0, 2.0])
    np.testing.assert_array_equal(matrix[vocab.index("film")], [3.0, 4.0])
    with pytest.raises(ValueError, match="`vectors`"):
        embedding_matrix(vocab, ["a"], np.ones((2, 2)))


def test_negation_probe_gold_labels_follow_the_templates():
    texts, labels, categories = negation_probe(per_category=30)
    assert len(texts) == 150 and set(categories) == set(PROBE_CATEGORIES)
    for text, label, category in zip(texts, labels, categories):
        if category == "not_good":
            assert " not " in text and label == 0
        elif category == "not_bad":
            assert " not " in text and label == 1
        elif category == "double":
            assert text.startswith("it is not true that") and text.count(" not ") == 2
    assert negation_probe(per_category=3)[0] == negation_probe(per_category=3)[0]
    with pytest.raises(ValueError, match="`per_category`"):
        negation_probe(per_category=0)


def test_generated_sentiment_is_balanced_and_has_negation():
    texts, labels = sentiment_sentences(600)
    assert 0.35 < labels.mean() < 0.65
    assert sum(" not " in t for t in texts) > 60 and sum(" but " in t for t in texts) > 60


def test_reads_sst2_when_present():
    if not os.path.isdir(SST):
        pytest.skip("../shared/data/sst2 is absent (CI and development machines only)")
    texts, labels, names = read_text_classification(os.path.join(SST, "test.tsv"))
    assert len(texts) == 872 and names == ["0", "1"] and set(labels.tolist()) == {0, 1}
