import numpy as np
import pytest

from keras_dlss.datasets import (
    build_language_model_corpus,
    load_text_corpus,
    python_documentation_text,
    read_text_file,
    tokenize_lines,
)
from keras_dlss.datasets.ud_english_ewt import ud_english_ewt_path


def test_bundled_python_documentation():
    text = python_documentation_text()
    assert len(text) > 400_000 and 'The "if" statement' in text


def test_closed_vocabulary_from_train_and_windows():
    corpus = build_language_model_corpus(
        [["a", "b", "a"], ["b", "c"]], [["a", "z"]], [["c", "y", "a"]]
    )
    vocab = corpus.vocabulary
    assert vocab.tokens[:3] == ["<pad>", "<unk>", "<eos>"]
    assert "z" not in vocab and "y" not in vocab  # only training tokens
    np.testing.assert_array_equal(corpus.valid, [vocab.index("a"), 1, 2])
    x, y = corpus.windows("train", 3)
    stream = corpus.train
    np.testing.assert_array_equal(x.reshape(-1)[: len(stream) - 1], stream[:-1])
    np.testing.assert_array_equal(y.reshape(-1)[: len(stream) - 1], stream[1:])
    assert np.all((x == 0) == (y == 0))  # padded inputs are exactly padded targets
    assert corpus.decode(stream) == "a b a\nb c\n"


def test_word_and_char_levels(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("Hello, world!\n\nIt's fine.\nThird line\n")
    assert tokenize_lines("Hello, world!", "word") == [["Hello", ",", "world", "!"]]
    corpus = load_text_corpus(str(path), level="char")
    assert corpus.level == "char" and len(corpus.train) == len("Hello, world!") + 1
    assert corpus.decode(corpus.train) == "Hello, world!\n"


def test_conllu_word_forms():
    corpus = load_text_corpus(ud_english_ewt_path(), level="word")
    assert len(corpus.vocabulary) > 100 and (corpus.test == 1).mean() < 0.2


def test_bad_inputs(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n\n")
    with pytest.raises(ValueError, match="`path`.*empty.*Received"):
        read_text_file(str(empty))
    with pytest.raises(ValueError, match="`level`.*Received"):
        load_text_corpus(level="byte")
    with pytest.raises(ValueError, match="`split`.*Received"):
        load_text_corpus(split=(0.5, 0.5))
